#!/usr/bin/env python
"""How much of the idealized anomaly detector survives N noise features, against data size.

The noise target of the CATHODE issue (at least 0.8 of a method's own max SIC with ten
standard-normal features added) is bounded by the classifier: CATHODE's classifier is
the IAD's, trained against a background model instead of a true template. This script
measures that bound: the IAD (BENCHMARK.md's protocol, ``protocol.py``) at one
S/sqrt(B) point, with and without the noise, on random fractions of the data and the
template, the signal injected at the same S/sqrt(B) in each, so that only the number of
training events changes. Truth labels are used (evaluation only).

    .venv/bin/python benchmarks/noise_vs_size.py --fractions 0.25,0.5,1 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import protocol as P
import suite


def subsample(splits: P.Splits, fraction: float, seed: int) -> P.Splits:
    """A random `fraction` of the data background and of the template (signal unchanged)."""
    if fraction >= 1:
        return splits
    rng = np.random.default_rng(np.random.SeedSequence([seed, round(fraction * 1e6)]))

    def part(t: Any) -> Any:
        return t.take(np.sort(rng.permutation(t.n_events)[: round(fraction * t.n_events)]))

    return replace(
        splits, data_background=part(splits.data_background), template=part(splits.template)
    )


def iad_max_sic(
    splits: P.Splits, variant: str, point: float, seed: int, options: dict[str, Any]
) -> dict[str, Any]:
    """The suite's IAD task on these splits (5 folds, HGB), without the SIC curve."""
    features = suite.variant_features(argparse.Namespace(features="lhco"), variant)
    out, _ = suite.iad_metrics(
        splits, features, point, seed, classifier="hgb", options=options, n_folds=5
    )
    out.pop("sic_curve")
    return {**out, "template_in_sr": int(P.in_sr(splits.template).sum())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=P.DEFAULT_DATA_DIR)
    p.add_argument("--fractions", type=suite.float_list, default=[0.25, 0.5, 1.0])
    p.add_argument("--seeds", default="0,1,2", help="comma-separated")
    p.add_argument("--point", type=float, default=2.0, help="S/sqrt(B) in the signal region")
    p.add_argument("--noise", type=int, default=10, help="noise features of the noise variant")
    p.add_argument(
        "--options",
        type=json.loads,
        default={"n_models": 3, "validation_fraction": 0.2, "n_iter_no_change": 30},
        help="HGB ensemble options (default: 3 models, stopping on 20%% with patience 30)",
    )
    p.add_argument(
        "--output", type=Path, default=P.REPO_ROOT / "benchmarks" / "output" / "noise_vs_size.json"
    )
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    noise = f"noise{args.noise}"

    base = P.load_splits(args.data_dir)
    variants = {v: suite.variant_splits(base, v) for v in ("baseline", noise)}
    rows = []
    for fraction in args.fractions:
        for seed in seeds:
            row: dict[str, Any] = {"fraction": fraction, "seed": seed}
            for variant, splits in variants.items():
                t0 = time.perf_counter()
                r = iad_max_sic(
                    subsample(splits, fraction, seed), variant, args.point, seed, args.options
                )
                row[variant] = {**r, "wall_s": time.perf_counter() - t0}
            row["ratio"] = row[noise]["max_sic"] / row["baseline"]["max_sic"]
            rows.append(row)
            print(
                f"fraction {fraction:g} seed {seed}: B in SR {row['baseline']['background_in_sr']}, "
                f"S {row['baseline']['signal_in_sr']}; max SIC {row['baseline']['max_sic']:.2f}, "
                f"{noise} {row[noise]['max_sic']:.2f}, ratio {row['ratio']:.2f}",
                flush=True,
            )
    print(f"\n| fraction of the data | B in SR | IAD | IAD {noise} | ratio (median [min, max]) |")
    print("|---|---|---|---|---|")
    for fraction in args.fractions:
        at = [r for r in rows if r["fraction"] == fraction]
        ratios = [r["ratio"] for r in at]
        print(
            f"| {fraction:g} | {at[0]['baseline']['background_in_sr']} "
            f"| {P.fmt(P.summary([r['baseline']['max_sic'] for r in at]))} "
            f"| {P.fmt(P.summary([r[noise]['max_sic'] for r in at]))} "
            f"| {np.median(ratios):.2f} [{min(ratios):.2f}, {max(ratios):.2f}] |"
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    args.output.write_text(json.dumps({"config": config, "rows": rows}, indent=1))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
