"""Sanity run of VAE-QR on background-only files: is the selection flat in mjj?

Trains one model on the first `--train` events of a file after the CASE preselection
and scores the next `--test` events; or, with `--folds K`, does what the core does:
k-folds all `--train` + `--test` events (casehunt.kfold.train_folds) and uses every
event's out-of-fold score. Prints, in mjj bins, the fraction of events above level
1 - eps (the calibrated score) next to the fraction above a plain cut on the raw score
at the same overall efficiency. Without signal every bin should show eps.

    .venv/bin/python plugins/vae/scripts/flatness.py ../shared/data/lhcolike/qcd.h5 \\
        --inputs features --train 100000 --test 200000
    .venv/bin/python plugins/vae/scripts/flatness.py ../shared/data/lhcolike/qcd.h5 \\
        --inputs features --train 300000 --test 0 --folds 5
    .venv/bin/python plugins/vae/scripts/flatness.py generated/qcd_const.h5 \\
        --inputs constituents --train 25000 --test 15000 --low 1500 --high 4100
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from casehunt.derived import derive_columns
from casehunt.events import EventTable
from casehunt.kfold import train_folds
from casehunt.methods import TrainingData
from casehunt.preselection import Preselection, builtin_cuts, resolve_config
from casehunt.readers import open_events
from casehunt_vae import VAEQR

#: the raw columns the derived features (tau ratios, mass ordering) come from
FEATURE_COLUMNS: tuple[str, ...] = (
    *("mjj", "jet_pt", "jet_eta", "jet_phi", "jet_m", "jet_msd"),
    *("jet_tau1", "jet_tau2", "jet_tau3", "jet_tau4", "jet_nconst"),
)


def load(path: Path, start: int, stop: int, constituents: bool) -> EventTable:
    """Events [start, stop) with derived columns, after the CASE preselection."""
    columns = [*FEATURE_COLUMNS, "jet_const"] if constituents else list(FEATURE_COLUMNS)
    events = open_events(path).read(columns, start=start, stop=stop)
    events = events.with_columns(**derive_columns(events))
    return events.take(Preselection(builtin_cuts(resolve_config({}))).apply(events))


def fractions(
    scores: np.ndarray, mjj: np.ndarray, threshold: float, edges: np.ndarray
) -> list[dict[str, Any]]:
    rows = []
    for lo, hi in itertools.pairwise(edges):
        inside = (mjj >= lo) & (mjj < hi)
        n = int(inside.sum())
        k = int(np.sum(scores[inside] > threshold))
        rows.append({"low": float(lo), "high": float(hi), "n": n, "selected": k})
    return rows


def report(name: str, rows: list[dict[str, Any]], eps: float) -> float:
    """Print the table; return the chi2 / ndf of the bin fractions against eps."""
    print(f"  {name}")
    chi2, ndf = 0.0, 0
    for r in rows:
        if r["n"] == 0:
            continue
        f = r["selected"] / r["n"]
        err = np.sqrt(eps * (1 - eps) / r["n"])
        chi2 += ((f - eps) / err) ** 2
        ndf += 1
        print(
            f"    {r['low']:6.0f}-{r['high']:6.0f}  n={r['n']:7d}  {f:.4f} +- {err:.4f}"
            f"  ({(f / eps - 1) * 100:+5.1f}%, {(f - eps) / err:+5.1f} sd)"
        )
    print(f"    chi2/ndf = {chi2:.1f}/{ndf}")
    return chi2 / max(ndf, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--inputs", choices=("features", "constituents"), default="features")
    parser.add_argument("--train", type=int, default=100_000)
    parser.add_argument("--test", type=int, default=200_000)
    parser.add_argument("--low", type=float, default=2700.0)
    parser.add_argument("--high", type=float, default=5000.0)
    parser.add_argument("--width", type=float, default=200.0)
    parser.add_argument("--options", default="{}", help="method options as JSON")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=0, help="k-fold all events (0: no)")
    parser.add_argument("--eps", default="0.1,0.01", help="selection efficiencies")
    parser.add_argument(
        "--signal", type=Path, help="a signal file: AUC and efficiencies in a mass window"
    )
    parser.add_argument("--signal-window", default="3300,3700", help="mjj window for --signal")
    args = parser.parse_args()

    constituents = args.inputs == "constituents"
    options = {"inputs": args.inputs, "progress": False, **json.loads(args.options)}
    t0 = time.perf_counter()
    if args.folds:
        test = load(args.path, 0, args.train + args.test, constituents)
        print(f"{args.path}: {test.n_events} events after preselection, {args.folds} folds")
        folded = train_folds(VAEQR, options, test, None, n_folds=args.folds, seed=args.seed)
        methods = folded.models
        level = folded.scores
        raw = np.empty(test.n_events)
        for k, model in enumerate(folded.models):
            assert isinstance(model, VAEQR)
            raw[folded.folds == k] = model.raw_scores(test.take(folded.folds == k))
    else:
        train = load(args.path, 0, args.train, constituents)
        test = load(args.path, args.train, args.train + args.test, constituents)
        print(f"{args.path}: {train.n_events} training, {test.n_events} test events")
        method = VAEQR(options, seed=args.seed)
        method.fit(TrainingData.for_region(train, None))
        methods = [method]
        raw = method.raw_scores(test)
        level = method.score(test)
    print(f"options {methods[0].options}")
    for model in methods:
        assert isinstance(model, VAEQR) and model.vae_ and model.calibration_
        history = model.vae_.history_["valid_loss"]
        print(
            f"VAE: {len(history)} epochs, best {model.vae_.best_epoch_}, validation loss "
            f"{min(history):.4f}; quantile levels {model.calibration_.levels.tolist()}"
        )
    print(f"load, fit and score: {time.perf_counter() - t0:.0f} s")
    mjj = np.asarray(test["mjj"], dtype=np.float64)
    edges = np.arange(args.low, args.high + 0.5 * args.width, args.width)
    window = (mjj >= edges[0]) & (mjj < edges[-1])
    for eps in (float(e) for e in args.eps.split(",")):
        print(f"eps = {eps}: fraction of test events selected per mjj bin")
        report("calibrated: level > 1 - eps", fractions(level, mjj, 1 - eps, edges), eps)
        plain = float(np.quantile(raw[window], 1 - eps))
        report(
            "raw score above its (1 - eps) quantile in the window",
            fractions(raw, mjj, plain, edges),
            eps,
        )
    if args.signal is not None:
        signal_report(args, methods, test, raw, level, constituents)


def signal_report(
    args: argparse.Namespace,
    methods: list[Any],
    background: EventTable,
    raw: np.ndarray,
    level: np.ndarray,
    constituents: bool,
) -> None:
    """AUC and selection efficiencies of signal against the test background in a window."""
    from scipy.stats import rankdata

    signal = load(args.signal, 0, 20_000, constituents)
    # the signal is scored by the mean of the models, as the benchmark's test signal
    s_raw = np.mean([m.raw_scores(signal) for m in methods], axis=0)
    s_level = np.mean([m.score(signal) for m in methods], axis=0)
    low, high = (float(v) for v in args.signal_window.split(","))
    m_b = np.asarray(background["mjj"])
    m_s = np.asarray(signal["mjj"])
    in_b, in_s = (m_b >= low) & (m_b < high), (m_s >= low) & (m_s < high)
    print(
        f"signal {args.signal}: {int(in_s.sum())} events in [{low:g}, {high:g}) against "
        f"{int(in_b.sum())} background events"
    )
    for name, b, s in (("raw", raw[in_b], s_raw[in_s]), ("calibrated", level[in_b], s_level[in_s])):
        ranks = rankdata(np.concatenate([b, s]))
        auc = (ranks[len(b) :].sum() - len(s) * (len(s) + 1) / 2) / (len(b) * len(s))
        effs = []
        for eps in (0.1, 0.01):
            threshold = np.quantile(b, 1 - eps)
            eff = float(np.mean(s > threshold))
            effs.append(f"eps_S at eps_B {eps}: {eff:.3f} (SIC {eff / np.sqrt(eps):.2f})")
        print(f"  {name}: AUC {auc:.3f}; " + "; ".join(effs))


if __name__ == "__main__":
    main()
