#!/usr/bin/env python
"""Tag N' Train against CWoLa hunting on the development dataset (../shared/BENCHMARK.md).

For each S/sqrt(B) point and seed: inject signal from the pool into the data background
(benchmarks/protocol.py), train each method k-folded (casehunt.kfold.train_folds) on the
signal region 3.3-3.7 TeV and 200 GeV sidebands, and measure max SIC (>= 25 test
background events passing) and AUC on the held-out signal-region test events, with the
wall time of the k-folded training. Truth labels are used for evaluation only.

    .venv/bin/python plugins/tnt/scripts/measure_sic.py --points 2 1.5 --seeds 1
    .venv/bin/python plugins/tnt/scripts/measure_sic.py --methods tnt \
        --variant iterated='{"iterations": 2}' --variant sr65='{"signal_rich_percentile": 65}'
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "benchmarks"))

import protocol as P  # noqa: E402

from casehunt.kfold import train_folds  # noqa: E402
from casehunt_cwola import CWoLaHunting  # noqa: E402
from casehunt_tnt import TagNTrain  # noqa: E402

#: the runs compared: CWoLa as the benchmark runs it (LHCO features, 3 models per fold),
#: CWoLa on TNT's per-jet features, and TNT with its defaults (3 models per fold)
BASE: dict[str, tuple[type, dict[str, Any]]] = {
    "cwola": (CWoLaHunting, {"n_models": 3}),
    "cwola_case_jet": (CWoLaHunting, {"n_models": 3, "features": "case_jet"}),
    "tnt": (TagNTrain, {"n_models": 3, "progress": False}),
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=P.DEFAULT_DATA_DIR)
    p.add_argument("--points", type=float, nargs="+", default=[2.0, 1.5])
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--methods", nargs="+", default=list(BASE), choices=list(BASE))
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        help="extra TNT run: name=JSON options, e.g. iterated='{\"iterations\": 2}'",
    )
    p.add_argument("--sideband", type=float, default=200.0)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--output", type=Path, default=None, help="JSON lines, one per run")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    runs = {name: BASE[name] for name in args.methods}
    for spec in args.variant:
        name, _, options = spec.partition("=")
        runs[name] = (TagNTrain, {**BASE["tnt"][1], **json.loads(options)})
    t0 = time.perf_counter()
    splits = P.load_splits(args.data_dir)
    print(f"loaded the splits in {time.perf_counter() - t0:.0f} s", flush=True)
    region = P.sr_region(args.sideband)
    n_b_sr = int(P.in_sr(splits.data_background).sum())
    test_sig = splits.test_signal.take(P.in_sr(splits.test_signal))
    results = []
    for point in args.points:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            n_sig = P.n_signal_for(point, n_b_sr)
            rng = np.random.default_rng(np.random.SeedSequence([seed, round(point * 1000)]))
            events, labels, _ = P.inject(splits.data_background, splits.signal_pool, n_sig, rng)
            keep = region.in_region(np.asarray(events["mjj"]))
            ev, lab = events.take(keep), labels[keep]
            sr = P.in_sr(ev)
            for name, (cls, options) in runs.items():
                t = time.perf_counter()
                folded = train_folds(cls, options, ev, region, n_folds=args.folds, seed=seed)
                wall = time.perf_counter() - t
                b = folded.scores[sr & (lab == 0)]
                s = folded.score_unseen(test_sig)
                row = {
                    "method": name,
                    "options": options,
                    "point": point,
                    "seed": seed,
                    "signal_in_sr": n_sig,
                    "max_sic": P.max_sic(b, s),
                    "auc": P.auc(b, s),
                    "wall_s": wall,
                    "train_events": int(ev.n_events),
                }
                results.append(row)
                print(
                    f"S/sqrt(B)={point} seed={seed} {name:>16}: max SIC {row['max_sic']:.2f} "
                    f"AUC {row['auc']:.3f} ({wall:.0f} s)",
                    flush=True,
                )
                if args.output is not None:
                    with args.output.open("a") as f:
                        f.write(json.dumps(row) + "\n")
    print("\n| run | S/sqrt(B) | max SIC (median) | AUC | wall [s] |\n|---|---|---|---|---|")
    for name in runs:
        for point in args.points:
            rows = [r for r in results if r["method"] == name and r["point"] == point]
            sic = P.fmt(P.summary([r["max_sic"] for r in rows]))
            auc = P.fmt(P.summary([r["auc"] for r in rows]), 3)
            wall = np.mean([r["wall_s"] for r in rows])
            print(f"| {name} | {point:g} | {sic} | {auc} | {wall:.0f} |")


if __name__ == "__main__":
    main()
