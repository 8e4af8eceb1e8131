"""Benchmark of `casehunt campaign` on the development data: scaling and discovery reach.

Runs the CASE injection study (BENCHMARK.md splits: data = qcd.h5 [0, 300000), signal
pool = the signal file [0, 10000); one signal region 3.3-3.7 TeV with 200 GeV
sidebands; selection at 1%; S/sqrt(B) amounts in the signal region) once per worker
count on a fresh local dask cluster, and prints:

- the wall time per worker count and the speed-up over one worker;
- the amount each method needs for 3 sigma and 5 sigma (median over seeds) and its
  ratio to the inclusive search.

    python benchmarks/campaign.py --methods cwola --levels 0,1,2,3,4,5,6 --seeds 3 \\
        --workers 1,2 --out benchmarks/output/campaign

Each worker count gets its own campaign folder, so every run computes all its tasks.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import time
from pathlib import Path
from typing import Any

from protocol import DEFAULT_DATA_DIR, QCD_FILE, SIGNAL_FILE

from casehunt.campaign import run_campaign
from casehunt.config import Config
from casehunt.engine import DaskEngine

#: method options for the benchmark (the suite's settings where it has them)
METHOD_OPTIONS: dict[str, dict[str, Any]] = {
    # 3 models; the backend's early stopping (20% split, patience 30; benchmarks/README.md)
    "cwola": {"n_models": 3},
    "cathode": {"training_sidebands": "all", "progress": False},
    "vae_qr": {"inputs": "features", "features": "case_jet", "progress": False},
    "tnt": {"combine": "fisher", "signal_rich_percentile": 65, "progress": False},
}


def make_config(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(args.data_dir)
    return {
        "run": {"name": "campaign_benchmark", "seed": 1, "n_folds": 5},
        "input": {"data": str(data_dir / QCD_FILE), "start": 0, "stop": args.data_events},
        "preselection": {"mjj_min": 2700},
        "regions": {"windows": [[3300, 3700]], "sideband_width": 200},
        "injection": {
            "signal": str(data_dir / SIGNAL_FILE),
            "start": 0,
            "stop": 10_000,
            "region": "sr_3300_3700",
            "signal_mass": 3500,
        },
        "selection": {"efficiency": args.efficiency},
        "methods": {
            m: {**METHOD_OPTIONS.get(m, {}), **json.loads(args.options).get(m, {})}
            for m in args.methods.split(",")
        },
        # per run: fits and significance scans; the limits come from the campaign's scans
        "statistics": {"fit_range": [2700, 6000], "compute_limits": False},
        "output": {"plots": False, "statistics": True},
        "campaign": {
            "s_over_sqrt_b": [float(x) for x in args.levels.split(",")],
            "seeds": args.seeds,
            "limits": not args.no_limits,
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    ap.add_argument("--methods", default="cwola")
    ap.add_argument("--levels", default="0,1,2,3,4,5,6", help="S/sqrt(B) amounts")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", default="1,2", help="worker counts to time, e.g. 1,2")
    ap.add_argument("--data-events", type=int, default=300_000)
    ap.add_argument("--efficiency", type=float, default=0.01)
    ap.add_argument("--no-limits", action="store_true")
    ap.add_argument("--options", default="{}", help="JSON {method: {option: value}} overrides")
    ap.add_argument("--out", default="benchmarks/output/campaign")
    args = ap.parse_args()

    config = Config(make_config(args))
    out = Path(args.out)
    rows, last = [], None
    for n in [int(w) for w in args.workers.split(",")]:
        folder = out / f"workers{n}"
        shutil.rmtree(folder, ignore_errors=True)
        t0 = time.perf_counter()
        with DaskEngine(workers=n) as engine:
            last = run_campaign(config, folder, engine, progress=False)
        wall = time.perf_counter() - t0
        rows.append({"workers": n, "wall_s": wall, "tasks": last["tasks"]["computed"]})
        print(f"{n} worker(s): {wall:.1f} s, {last['tasks']['computed']} tasks", flush=True)
    base = rows[0]["wall_s"]
    print("\n| workers | wall time [s] | speed-up |\n|---|---|---|")
    for r in rows:
        print(f"| {r['workers']} | {r['wall_s']:.1f} | {base / r['wall_s']:.2f} |")
    assert last is not None
    print(f"\n| method | {last['unit']} for 3 sigma | for 5 sigma | 5 sigma: inclusive / method |")
    print("|---|---|---|---|")
    for name, res in last["results"].items():
        z3, z5 = res["xsec_3sigma"], res["xsec_5sigma"]
        fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        seeds = ", ".join(fmt(v) for v in z5["per_seed"])
        print(
            f"| {name} | {fmt(z3['median'])} | {fmt(z5['median'])} ({seeds}) "
            f"| {fmt(res['improvement_5sigma'])} |"
        )
    if last["tasks"]["failed"]:
        print("failed tasks:", [f["task"] for f in last["tasks"]["failed"]])
    summary = {
        "scaling": rows,
        "results": {
            k: {kk: vv for kk, vv in v.items() if kk != "points"}
            for k, v in last["results"].items()
        },
        "peak_rss_driver_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "args": vars(args),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
