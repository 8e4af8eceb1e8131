"""Max SIC of CATHODE on the development data, as BENCHMARK.md measures it.

    python plugins/cathode/scripts/measure_sic.py --s-over-sqrt-b 2 --seed 0 \
        --sidebands wide --options '{"flow_epochs": 30}'

Background: qcd.h5 [0, 300000) preselected; signal injected from
signal_wp3500_x500_y100.h5 [0, 10000) until the signal region holds S/sqrt(B) * sqrt(B)
events; 5 folds; test background = the data's background in the signal region with
out-of-fold scores; test signal = signal [10000, 20000) in the signal region, scored by the
mean of the fold models; max SIC over thresholds passed by >= 25 test background events.
``--folds-to-run 1`` times one fold's fit only.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import devdata

from casehunt.events import EventTable
from casehunt.folds import assign_folds
from casehunt.kfold import train_folds
from casehunt.methods import TrainingData
from casehunt.regions import SignalRegion
from casehunt_cathode import CATHODE

SIDEBANDS = {"200": (3100.0, 3900.0), "wide": (0.0, np.inf), "500": (2800.0, 4200.0)}


def max_sic(s_sig: np.ndarray, s_bkg: np.ndarray, min_bkg: int = 25) -> tuple[float, float]:
    """(max SIC, AUC) with thresholds passed by at least `min_bkg` background events."""
    sb, ss = np.sort(s_bkg), np.sort(s_sig)
    # for a given number of background events passing, the lowest threshold is best:
    # a background score itself (events with score >= threshold pass)
    thresholds = sb[: len(sb) - min_bkg + 1]
    eps_b = (len(sb) - np.searchsorted(sb, thresholds, side="left")) / len(sb)
    eps_s = (len(ss) - np.searchsorted(ss, thresholds, side="left")) / len(ss)
    sic = float(np.max(eps_s / np.sqrt(eps_b)))
    # AUC from ranks
    allv = np.concatenate([s_sig, s_bkg])
    ranks = np.argsort(np.argsort(allv)) + 1
    auc = (ranks[: len(s_sig)].sum() - len(s_sig) * (len(s_sig) + 1) / 2) / (
        len(s_sig) * len(s_bkg)
    )
    return sic, float(auc)


def inject(bkg: EventTable, pool: EventTable, n_in_sr: int, region: SignalRegion, seed: int):
    rng = np.random.default_rng(seed)
    m_pool = np.asarray(pool["mjj"])
    order = rng.permutation(pool.n_events)
    in_sr = region.in_signal_region(m_pool[order])
    n_take = int(np.searchsorted(np.cumsum(in_sr), n_in_sr)) + 1 if n_in_sr else 0
    sig = pool.take(np.sort(order[:n_take]))
    events = EventTable.concatenate([bkg, sig])
    labels = np.concatenate([np.zeros(bkg.n_events, np.int8), np.ones(sig.n_events, np.int8)])
    perm = rng.permutation(events.n_events)
    return events.take(perm), labels[perm]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--s-over-sqrt-b", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sidebands", choices=sorted(SIDEBANDS), default="wide")
    ap.add_argument("--options", default="{}")
    ap.add_argument("--folds-to-run", type=int, default=5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    options = json.loads(args.options)

    t0 = time.perf_counter()
    bkg = devdata.load("qcd", 0, 300_000)
    pool = devdata.load("signal_wp3500_x500_y100", 0, 10_000)
    test = devdata.load("signal_wp3500_x500_y100", 10_000, 20_000)
    lo, hi = SIDEBANDS[args.sidebands]
    region = SignalRegion(3300.0, 3700.0, lo, hi)
    b_sr = int(region.in_signal_region(np.asarray(bkg["mjj"])).sum())
    n_sig = round(args.s_over_sqrt_b * np.sqrt(b_sr))
    events, labels = inject(bkg, pool, n_sig, region, args.seed)
    m = np.asarray(events["mjj"])
    print(
        f"B in SR {b_sr}, S in SR {n_sig}, sidebands {lo}-{hi}: {int(region.in_sideband(m).sum())} events"
    )
    t_load = time.perf_counter() - t0

    t1 = time.perf_counter()
    result: dict = {
        "s_over_sqrt_b": args.s_over_sqrt_b,
        "seed": args.seed,
        "options": options,
        "sidebands": args.sidebands,
    }
    if args.folds_to_run < 5:
        folds = assign_folds(events.n_events, 5, args.seed)
        train = (folds != 0) & region.in_region(m)
        method = CATHODE(options, seed=args.seed)
        method.fit(TrainingData.for_region(events.take(train), region))
        result["fit_s"] = time.perf_counter() - t1
        result["flow_valid_loss"] = method.flow_.history_["valid_loss"]
        result["best_epochs"] = [ep for _, ep, _ in method.flow_.best_]
        s = method.score(events.take(folds == 0))
        sr0 = region.in_signal_region(m[folds == 0])
        s_sig = method.score(test.take(region.in_signal_region(np.asarray(test["mjj"]))))
        sic, auc = max_sic(s_sig, s[sr0 & (labels[folds == 0] == 0)], min_bkg=5)
        result["fold0_sic_min5"], result["fold0_auc"] = sic, auc
    else:
        folded = train_folds(
            CATHODE,
            options,
            events,
            region,
            n_folds=5,
            seed=args.seed,
            on_fold=lambda k: print(
                f"fold {k} done at {time.perf_counter() - t1:.0f} s", flush=True
            ),
        )
        result["train_s"] = time.perf_counter() - t1
        sr = region.in_signal_region(m)
        s_bkg = folded.scores[sr & (labels == 0)]
        test_sr = test.take(region.in_signal_region(np.asarray(test["mjj"])))
        s_sig = folded.score_unseen(test_sr)
        result["max_sic"], result["auc"] = max_sic(s_sig, s_bkg)
    result["load_s"] = t_load
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
