#!/usr/bin/env python
"""Benchmark CWoLa hunting against the IAD and supervised references (../shared/BENCHMARK.md).

For each S/sqrt(B) point and seed: inject signal from the pool into the data background,
run CWoLa hunting k-folded (casehunt.kfold.train_folds) on the signal region 3.3-3.7 TeV
with sidebands on each side, train the idealized anomaly detector (SR data against the SR
background template, k-folded over the data) with the same classifier, and measure max
SIC and AUC on the held-out signal-region test events. The supervised reference (signal
pool against template) is trained once per seed. Prints markdown tables and writes JSON.

    .venv/bin/python benchmarks/bench_cwola.py                  # the full protocol
    .venv/bin/python benchmarks/bench_cwola.py --seeds 1 --points 2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from importlib import metadata
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import protocol as P

from casehunt.features import resolve_features
from casehunt.kfold import train_folds
from casehunt_cwola import CWoLaHunting

METHODS = ("iad", "cwola", "supervised")

# Set in the parent before worker processes fork, so the data are shared, not pickled.
_SPLITS: P.Splits | None = None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=P.DEFAULT_DATA_DIR, help="dataset folder")
    p.add_argument("--output", type=Path, default=P.REPO_ROOT / "benchmarks" / "output" / "cwola")
    p.add_argument("--seeds", type=int, default=5, help="seeds per point (default 5)")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--points", type=float, nargs="+", default=list(P.POINTS), help="S/sqrt(B)")
    p.add_argument("--classifier", default="hgb", help="backend of casehunt.classifiers")
    p.add_argument(
        "--classifier-options", type=json.loads, default={}, help="JSON, for every method"
    )
    p.add_argument("--n-models", type=int, default=3, help="models per fold, every method")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--sideband", type=float, default=200.0, help="sideband width each side [GeV]")
    p.add_argument("--features", default="lhco", help="event-level feature set of every method")
    p.add_argument(
        "--cwola-options", type=json.loads, default={}, help="JSON overriding CWoLa's options"
    )
    p.add_argument("--no-supervised", action="store_true")
    p.add_argument("--no-iad", action="store_true")
    p.add_argument(
        "--time-region",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="time one CWoLa region with the plugin's defaults on all data events",
    )
    p.add_argument("--jobs", type=int, default=1, help="worker processes (tasks in parallel)")
    return p.parse_args(argv)


def cwola_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "features": args.features,
        "classifier": args.classifier,
        "classifier_options": args.classifier_options,
        "n_models": args.n_models,
        **args.cwola_options,
    }


def ref_options(args: argparse.Namespace) -> dict[str, Any]:
    return {**args.classifier_options, "n_models": args.n_models}


def injection_task(args: argparse.Namespace, point: float, seed: int) -> dict[str, Any]:
    """CWoLa and the IAD at one S/sqrt(B) point for one seed."""
    S = _SPLITS
    assert S is not None
    region = P.sr_region(args.sideband)
    n_b_sr = int(P.in_sr(S.data_background).sum())
    n_sig_sr = P.n_signal_for(point, n_b_sr)
    rng = np.random.default_rng(np.random.SeedSequence([seed, round(point * 1000)]))
    events, labels, n_drawn = P.inject(S.data_background, S.signal_pool, n_sig_sr, rng)
    test_sig = S.test_signal.take(P.in_sr(S.test_signal))
    out: dict[str, Any] = {
        "point": point,
        "seed": seed,
        "signal_in_sr": n_sig_sr,
        "signal_injected": n_drawn,
        "background_in_sr": n_b_sr,
    }

    # CWoLa: only the signal region and sidebands matter for these metrics; scoring the
    # rest is what --time-region measures.
    m = np.asarray(events["mjj"])
    keep = region.in_region(m)
    ev, lab = events.take(keep), labels[keep]
    t0 = time.perf_counter()
    folded = train_folds(
        CWoLaHunting, cwola_options(args), ev, region, n_folds=args.folds, seed=seed
    )
    t_cwola = time.perf_counter() - t0
    sr = P.in_sr(ev)
    b = folded.scores[sr & (lab == 0)]
    s = folded.score_unseen(test_sig)
    out["cwola"] = {
        "max_sic": P.max_sic(b, s),
        "auc": P.auc(b, s),
        "wall_s": t_cwola,
        "train_events": int(ev.n_events),
        "signal_in_sidebands": int((region.in_sideband(np.asarray(ev["mjj"])) & (lab == 1)).sum()),
    }

    if not args.no_iad:
        features = resolve_features(args.features)
        sr_all = P.in_sr(events)
        data_sr = P.feature_matrix(features, events.take(sr_all))
        template = S.template.take(P.in_sr(S.template))
        t0 = time.perf_counter()
        data_scores, test_scores = P.iad_scores(
            data_sr,
            P.feature_matrix(features, template),
            P.feature_matrix(features, test_sig),
            classifier=args.classifier,
            options=ref_options(args),
            n_folds=args.folds,
            seed=seed,
        )
        b = data_scores[labels[sr_all] == 0]
        out["iad"] = {
            "max_sic": P.max_sic(b, test_scores),
            "auc": P.auc(b, test_scores),
            "wall_s": time.perf_counter() - t0,
        }
    return out


def supervised_task(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """The supervised reference: signal pool against template in the SR, true labels."""
    S = _SPLITS
    assert S is not None
    features = resolve_features(args.features)
    X = lambda t: P.feature_matrix(features, t.take(P.in_sr(t)))  # noqa: E731
    t0 = time.perf_counter()
    b, s = P.supervised_scores(
        X(S.signal_pool),
        X(S.template),
        [X(S.data_background), X(S.test_signal)],
        classifier=args.classifier,
        options=ref_options(args),
        seed=seed,
    )
    return {
        "seed": seed,
        "supervised": {
            "max_sic": P.max_sic(b, s),
            "auc": P.auc(b, s),
            "wall_s": time.perf_counter() - t0,
        },
    }


def time_one_region(args: argparse.Namespace) -> dict[str, Any]:
    """Wall time of one CWoLa signal region as an analysis runs it: the plugin's default
    options, 5 folds, every preselected data event scored (S/sqrt(B) = 2 injected)."""
    S = _SPLITS
    assert S is not None
    region = P.sr_region(args.sideband)
    n_sig = P.n_signal_for(2.0, int(P.in_sr(S.data_background).sum()))
    events, _, _ = P.inject(S.data_background, S.signal_pool, n_sig, np.random.default_rng(99))
    options = {k: v for k, v in args.cwola_options.items()}
    t0 = time.perf_counter()
    train_folds(CWoLaHunting, options, events, region, n_folds=5, seed=0)
    wall = time.perf_counter() - t0
    return {
        "wall_s": wall,
        "options": CWoLaHunting(options).options,
        "events_scored": int(events.n_events),
        "events_in_region": int(region.in_region(np.asarray(events["mjj"])).sum()),
        "cpu_count": os.cpu_count(),
    }


def _call(job: tuple[str, tuple[Any, ...]]) -> dict[str, Any]:
    kind, job_args = job
    return {"injection": injection_task, "supervised": supervised_task}[kind](*job_args)


def summarise(
    args: argparse.Namespace, runs: list[dict[str, Any]], sup: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    rows = []
    sup_stats = {
        metric: P.summary([r["supervised"][metric] for r in sup]) for metric in ("max_sic", "auc")
    }
    for point in args.points:
        at = [r for r in runs if r["point"] == point]
        row: dict[str, Any] = {
            "point": point,
            "signal_in_sr": at[0]["signal_in_sr"] if at else None,
        }
        for method in ("iad", "cwola"):
            if at and method in at[0]:
                row[method] = {
                    metric: P.summary([r[method][metric] for r in at])
                    for metric in ("max_sic", "auc")
                }
        if "iad" in row:
            ratio = [r["cwola"]["max_sic"] / r["iad"]["max_sic"] for r in at]
            row["cwola_over_iad"] = P.summary(ratio)
        if sup:
            row["supervised"] = sup_stats
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]], metric: str, digits: int) -> str:
    out = [
        "| S/sqrt(B) | S in SR | IAD | CWoLa | supervised | CWoLa / IAD |",
        "|---|---|---|---|---|---|",
    ]
    na = "n/a"
    for r in rows:
        cell = {m: P.fmt(r[m][metric], digits) if m in r else na for m in METHODS}.get
        ratio = (
            P.fmt(r["cwola_over_iad"], 2) if "cwola_over_iad" in r and metric == "max_sic" else na
        )
        out.append(
            f"| {r['point']:g} | {r['signal_in_sr']} | {cell('iad')} | {cell('cwola')} | "
            f"{cell('supervised')} | {ratio} |"
        )
    return "\n".join(out)


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("casehunt", "casehunt-cwola", "numpy", "scikit-learn", "torch"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out


def main(argv: list[str] | None = None) -> int:
    global _SPLITS
    args = parse_args(argv)
    t_start = time.perf_counter()
    print(f"reading {args.data_dir} ...", flush=True)
    _SPLITS = S = P.load_splits(args.data_dir)
    counts = {
        "data_background_sr": int(P.in_sr(S.data_background).sum()),
        "template_sr": int(P.in_sr(S.template).sum()),
        "signal_pool_sr": int(P.in_sr(S.signal_pool).sum()),
        "test_signal_sr": int(P.in_sr(S.test_signal).sum()),
        "data_background_preselected": int(S.data_background.n_events),
        "template_preselected": int(S.template.n_events),
        "signal_pool_preselected": int(S.signal_pool.n_events),
    }
    print(
        f"signal region {P.SR_LOW:g}-{P.SR_HIGH:g} GeV after the preselection: "
        f"{counts['data_background_sr']} data background (BENCHMARK.md: 20,827), "
        f"{counts['template_sr']} template (13,930), {counts['signal_pool_sr']} signal pool, "
        f"{counts['test_signal_sr']} test signal; load {time.perf_counter() - t_start:.1f} s",
        flush=True,
    )
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    jobs: list[tuple[str, tuple[Any, ...]]] = [
        ("injection", (args, point, seed)) for point in args.points for seed in seeds
    ]
    if not args.no_supervised:
        jobs += [("supervised", (args, seed)) for seed in seeds]

    timing = time_one_region(args) if args.time_region else None
    if timing:
        print(f"one CWoLa signal region (plugin defaults): {timing['wall_s']:.1f} s", flush=True)
    t_tasks = time.perf_counter()
    results: list[dict[str, Any]] = []
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("fork")) as pool:
            for r in pool.map(_call, jobs):
                results.append(r)
                report(r)
    else:
        for job in jobs:
            results.append(_call(job))
            report(results[-1])
    t_tasks = time.perf_counter() - t_tasks
    runs = [r for r in results if "point" in r]
    sup = [r for r in results if "supervised" in r]

    total = time.perf_counter() - t_start
    rows = summarise(args, runs, sup)
    sic_table, auc_table = markdown(rows, "max_sic", 2), markdown(rows, "auc", 3)
    print("\n## Max SIC (median [16%, 84%])\n")
    print(sic_table)
    print("\n## AUC\n")
    print(auc_table)
    cw = [r["cwola"]["wall_s"] for r in runs]
    print(
        f"\nCWoLa k-folded training per point and seed (SR + sidebands, {args.folds} folds x "
        f"{args.n_models} models): median {np.median(cw):.1f} s"
    )
    if timing:
        print(
            f"one CWoLa signal region, plugin defaults ({timing['options']['n_models']} models x "
            f"5 folds), {timing['events_scored']} events scored: {timing['wall_s']:.1f} s wall "
            f"on {timing['cpu_count']} cores"
        )
    print(f"tasks {t_tasks:.0f} s, whole run {total:.0f} s wall")

    args.output.mkdir(parents=True, exist_ok=True)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    payload = {
        "config": config,
        "command": " ".join(sys.argv),
        "versions": versions(),
        "counts": counts,
        "cutflows": S.cutflows,
        "summary": rows,
        "runs": runs,
        "supervised_runs": sup,
        "timing": {"tasks_s": t_tasks, "total_s": total, "one_region": timing},
    }
    (args.output / "results.json").write_text(json.dumps(payload, indent=2, default=float))
    (args.output / "table.md").write_text(f"## Max SIC\n\n{sic_table}\n\n## AUC\n\n{auc_table}\n")
    print(f"wrote {args.output / 'results.json'}")
    return 0


def report(r: dict[str, Any]) -> None:
    if "point" in r:
        parts = [f"S/sqrt(B)={r['point']:g} seed={r['seed']}"]
        for m in ("cwola", "iad"):
            if m in r:
                parts.append(
                    f"{m}: SIC {r[m]['max_sic']:.2f} AUC {r[m]['auc']:.3f} ({r[m]['wall_s']:.0f} s)"
                )
    else:
        s = r["supervised"]
        parts = [f"supervised seed={r['seed']}: SIC {s['max_sic']:.2f} AUC {s['auc']:.3f}"]
    print("  " + "; ".join(parts), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
