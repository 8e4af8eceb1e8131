#!/usr/bin/env python
"""SALAD on the development dataset: max SIC per variant and S/sqrt(B), and sideband closure.

Follows the protocol of BENCHMARK.md (``protocol.py``, and the suite's injection and
metrics) for the one thing the suite cannot do for SALAD: a variant changes the data, and
SALAD's simulation must carry the same variant (a simulation of the correlated world has
correlated masses too). So the simulation file is read as SALAD reads it (derived
columns, CASE preselection), the variant is applied to it as to every data split, and the
result is written next to the output for SALAD to read.

Closure (arXiv:2001.05001, Sec. 2: the reweighted simulation must match data where there
is no signal): SALAD is fitted on four fifths of the background-only data and one half of
the simulation; chi2/ndf of the held-out data against the other half of the simulation,
unweighted and reweighted, per feature and for the reweighting classifier's output, in the
sidebands and (background-only data: truth is known here, not in the method) in the
signal region.

    .venv/bin/python benchmarks/salad.py --simulation generated/qcd_sim_tune4c.h5
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import protocol as P
import suite

from casehunt.folds import assign_folds
from casehunt.kfold import train_folds
from casehunt.methods import TrainingData
from casehunt.regions import SignalRegion
from casehunt.variants import apply_variant
from casehunt_salad import SALAD
from casehunt_salad.closure import closure_chi2
from casehunt_salad.simulation import read_simulation

#: SALAD trains its reweighting on wide sidebands: everything outside the signal region
WIDE = SignalRegion(P.SR_LOW, P.SR_HIGH, 0.0, float("inf"))
FEATURES = ("mj2", "delta_mj", "tau21_j2", "tau21_j1")


def variant_simulation(simulation: Path, variant: str, out: Path) -> Path:
    """The simulation file with the variant applied (the file itself for the baseline)."""
    if variant == "baseline":
        return simulation
    events = apply_variant(read_simulation(simulation, preselect=True), variant)
    path = out / f"simulation_{variant}.h5"
    with h5py.File(path, "w") as f:
        for name in P.RAW_COLUMNS:
            f.create_dataset(name, data=np.asarray(events[name]))
        f.attrs["source"] = str(simulation)
        f.attrs["variant"] = variant
    return path


def closure(S: P.Splits, simulation: Path, options: dict[str, Any], seed: int) -> dict[str, Any]:
    """Held-out chi2/ndf of data against the simulation, before and after reweighting."""
    sim = read_simulation(simulation, preselect=True)
    half = np.random.default_rng(seed).permutation(sim.n_events) < sim.n_events // 2
    data = S.data_background
    held_out = assign_folds(data.n_events, 5, seed) == 0
    train = data.take(~held_out)
    method = SALAD({**options, "simulation": sim.take(half)}, seed=seed)
    t0 = time.perf_counter()
    method.fit(TrainingData.for_region(train, WIDE))
    out: dict[str, Any] = {"fit_wall_s": time.perf_counter() - t0}
    test_data, test_sim = data.take(held_out), sim.take(~half)
    for part in ("in_sideband", "in_signal_region"):
        d = test_data.take(getattr(WIDE, part)(np.asarray(test_data["mjj"])))
        s = test_sim.take(getattr(WIDE, part)(np.asarray(test_sim["mjj"])))
        w = method.simulation_weights(s)
        obs = {c: (np.asarray(d[c]), np.asarray(s[c])) for c in FEATURES}
        obs["f(x, m)"] = (method.reweighting_output(d), method.reweighting_output(s))
        out[part] = {
            "n_data": d.n_events,
            "n_simulation": s.n_events,
            "chi2_ndf": {
                k: {"unweighted": closure_chi2(a, b), "reweighted": closure_chi2(a, b, w)}
                for k, (a, b) in obs.items()
            },
        }
    return out


def salad_task(
    S: P.Splits, simulation: Path, options: dict[str, Any], point: float, seed: int
) -> dict[str, Any]:
    """Max SIC and AUC of SALAD k-folded on the injected data, as the suite's method task."""
    events, labels, info = suite.injected(S, point, seed)
    test_sig = S.test_signal.take(P.in_sr(S.test_signal))
    t0 = time.perf_counter()
    folded = train_folds(
        SALAD, {**options, "simulation": str(simulation)}, events, WIDE, n_folds=5, seed=seed
    )
    wall = time.perf_counter() - t0
    sr = P.in_sr(events)
    b = folded.scores[sr & (labels == 0)]
    s = folded.score_unseen(test_sig)
    return {**info, "max_sic": P.max_sic(b, s), "auc": P.auc(b, s), "train_wall_s": wall}


def small_iad_task(S: P.Splits, n_template: int, point: float, seed: int) -> dict[str, Any]:
    """The IAD with its template cut to `n_template` signal-region events (the simulation's).

    SALAD's background model in the signal region is the simulation there; an IAD with a
    template as small separates the cost of the simulation's statistics from SALAD's own.
    """
    features = suite.variant_features(argparse.Namespace(features="lhco"), "baseline")
    events, labels, info = suite.injected(S, point, seed)
    sr = P.in_sr(events)
    template = S.template.take(P.in_sr(S.template))
    keep = np.sort(np.random.default_rng(seed).permutation(template.n_events)[:n_template])
    test_sig = S.test_signal.take(P.in_sr(S.test_signal))
    data_scores, test_scores = P.iad_scores(
        P.feature_matrix(features, events.take(sr)),
        P.feature_matrix(features, template.take(keep)),
        P.feature_matrix(features, test_sig),
        classifier="hgb",
        options={"n_models": 3},
        n_folds=5,
        seed=seed,
    )
    b = data_scores[labels[sr] == 0]
    return {**info, "n_template": n_template, "max_sic": P.max_sic(b, test_scores)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=P.DEFAULT_DATA_DIR)
    p.add_argument("--simulation", type=Path, required=True)
    p.add_argument("--points", type=suite.float_list, default=[2.0, 1.0])
    p.add_argument("--variants", type=suite.name_list, default=["baseline", "correlated"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--options", type=json.loads, default={"n_models": 3})
    p.add_argument("--no-closure", action="store_true")
    p.add_argument(
        "--small-iad",
        action="store_true",
        help="also the IAD with a template as small as the simulation in the signal region",
    )
    p.add_argument("--output", type=Path, default=P.REPO_ROOT / "benchmarks/output/salad")
    args = p.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    base = P.load_splits(args.data_dir)
    results: dict[str, Any] = {"options": args.options, "simulation": str(args.simulation)}
    for variant in args.variants:
        S = suite.variant_splits(base, variant)
        sim_path = variant_simulation(args.simulation, variant, args.output)
        res: dict[str, Any] = {}
        if not args.no_closure and variant == "baseline":
            res["closure"] = closure(S, sim_path, args.options, args.seed)
            print(json.dumps(res["closure"], indent=1), flush=True)
        for point in args.points:
            r = salad_task(S, sim_path, args.options, point, args.seed)
            res[f"{point:g}"] = r
            print(f"{variant} S/sqrt(B)={point:g}: max SIC {r['max_sic']:.2f} AUC {r['auc']:.3f}"
                  f" ({r['train_wall_s']:.0f} s)", flush=True)  # fmt: skip
        if args.small_iad and variant == "baseline":
            n_sim_sr = int(P.in_sr(read_simulation(args.simulation, preselect=True)).sum())
            for point in args.points:
                r = small_iad_task(S, n_sim_sr, point, args.seed)
                res[f"small_iad_{point:g}"] = r
                print(f"IAD with {n_sim_sr} template events, S/sqrt(B)={point:g}: "
                      f"max SIC {r['max_sic']:.2f}", flush=True)  # fmt: skip
        results[variant] = res
        (args.output / "results.json").write_text(json.dumps(results, indent=1, default=float))
    results["wall_s"] = time.perf_counter() - t_start
    (args.output / "results.json").write_text(json.dumps(results, indent=1, default=float))
    print(f"wrote {args.output / 'results.json'} ({results['wall_s']:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
