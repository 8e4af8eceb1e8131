"""Max SIC of QUAK on the development data, following BENCHMARK.md.

    python plugins/quak/scripts/measure_sic.py --seed 0 --s-over-sqrt-b 2 \
        --options '{"background_flow": {"epochs": 20}}' --out /tmp/quak_sic.json

Data: qcd.h5 [0, 300000) preselected (benchmarks/protocol.py), signal injected until the
signal region 3.3-3.7 TeV holds S/sqrt(B) * sqrt(B) events; 5 folds; test background =
the data's background in the signal region with out-of-fold scores; test signal =
signal [10000, 20000) in the signal region, scored by the mean of the fold models; max
SIC over thresholds passed by >= 25 test background events.

One deviation, to have a *matching* prior that is neither injected nor tested: the
injection pool is the first half of the protocol's pool (signal events [0, 5000)), and
signal events [5000, 10000) are written to a temporary file in the data layout and used
as a prior. The generated priors (generated/prior_wp3500_*.h5) are all different signals.

The method is trained once, with every prior; the QUAK plane of each prior *subset*
("cases") is then rebuilt from the fold models' per-prior losses, exactly as
``QUAK.fit``/``QUAK.score`` do for that subset (the case with every prior is checked
against the method's own scores). Reported per case: quadrant score (the default), the
log-likelihood ratio, and the background loss alone (QUAK without priors).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
import protocol as P  # the benchmark protocol (read only)

from casehunt.derived import derive_columns
from casehunt.events import EventTable
from casehunt.kfold import train_folds
from casehunt.preselection import Preselection, builtin_cuts, resolve_config
from casehunt.readers import open_events
from casehunt.regions import SignalRegion
from casehunt_quak import QUAK
from casehunt_quak.method import quadrant_score

REPO = Path(__file__).resolve().parents[3]
GENERATED = REPO / "generated"
PRIORS = {
    "2p_x250_y80": "prior_wp3500_x250_y80_2prong.h5",
    "2p_x400_y200": "prior_wp3500_x400_y200_2prong.h5",
    "2p_x700_y150": "prior_wp3500_x700_y150_2prong.h5",
    "3p_x300_y100": "prior_wp3500_x300_y100_3prong.h5",
    "3p_x700_y200": "prior_wp3500_x700_y200_3prong.h5",
}


def write_matching_prior(path: Path) -> None:
    """Signal events [5000, 10000) of the development signal file, in the data layout."""
    src = P.DEFAULT_DATA_DIR / P.SIGNAL_FILE
    with h5py.File(src, "r") as f, h5py.File(path, "w") as g:
        for name, ds in f.items():
            if isinstance(ds, h5py.Dataset) and ds.ndim >= 1:
                g.create_dataset(name, data=ds[5000:10000])


def fold_losses(
    models: list[QUAK],
    events: EventTable,
    folds: np.ndarray,
    train_sidebands: list[np.ndarray],
    test: EventTable,
) -> list[dict[str, dict[str, np.ndarray]]]:
    """Per fold model: the QUAK coordinates of its reference, its held-out fold and the test."""
    out = []
    for k, model in enumerate(models):
        out.append(
            {
                "reference": model.losses(events.take(train_sidebands[k])),
                "fold": model.losses(events.take(folds == k)),
                "test": model.losses(test),
            }
        )
    return out


def plane_scores(
    losses: list[dict[str, dict[str, np.ndarray]]], folds: np.ndarray, subset: list[int]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Out-of-fold data scores and mean-of-folds test scores for one prior subset."""
    names = ("quadrant", "llr", "background")
    out_data = {k: np.empty(len(folds)) for k in names}
    out_test = {k: np.zeros(len(losses[0]["test"]["background"])) for k in names}
    for k, fl in enumerate(losses):
        ref = fl["reference"]
        l_b, l_s = ref["background"], ref["priors"][:, subset].min(axis=1)
        n = len(l_b)
        nb = int(np.clip(round(np.sqrt(n)), 10, 200))  # the method's n_bins "auto"
        probs = np.arange(1, nb) / nb
        edges = (np.unique(np.quantile(l_b, probs)), np.unique(np.quantile(l_s, probs)))

        def cells(lb: np.ndarray, ls: np.ndarray, e: tuple = edges) -> tuple:
            return np.searchsorted(e[0], lb, side="right"), np.searchsorted(e[1], ls, side="right")

        counts = np.zeros((len(edges[0]) + 1, len(edges[1]) + 1))
        np.add.at(counts, cells(l_b, l_s), 1.0)
        corner = np.cumsum(np.cumsum(counts[::-1], axis=0)[::-1], axis=1)
        for part in ("fold", "test"):
            q = fl[part]
            lb, ls = q["background"], q["priors"][:, subset].min(axis=1)
            s = {
                "quadrant": quadrant_score(corner, cells(lb, ls), n, lb - ls),
                "llr": lb - ls,
                "background": lb,
            }
            for name, v in s.items():
                if part == "fold":
                    out_data[name][folds == k] = v
                else:
                    out_test[name] += v / len(losses)
    return {k: (out_data[k], out_test[k]) for k in names}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--s-over-sqrt-b", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--options", default="{}")
    ap.add_argument("--sidebands", default="wide", help="'wide' or a width in GeV")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    t0 = time.perf_counter()
    data_bkg, _ = P.load_split(P.DEFAULT_DATA_DIR, "data_background")
    test, _ = P.load_split(P.DEFAULT_DATA_DIR, "test_signal")
    pool = load_range(P.SIGNAL_FILE, 0, 5000)  # the injection pool: its first half
    test = test.take(P.in_sr(test))
    n_b_sr = int(P.in_sr(data_bkg).sum())
    n_sig = P.n_signal_for(args.s_over_sqrt_b, n_b_sr)
    rng = np.random.default_rng(
        np.random.SeedSequence([args.seed, round(args.s_over_sqrt_b * 1000)])
    )
    events, labels, n_drawn = P.inject(data_bkg, pool, n_sig, rng)
    if args.sidebands == "wide":
        region = SignalRegion(P.SR_LOW, P.SR_HIGH, 0.0, float("inf"))
    else:
        region = P.sr_region(float(args.sidebands))
    t_load = time.perf_counter() - t0

    tmp = Path(tempfile.mkdtemp(prefix="quak_prior_"))
    matching = tmp / "prior_wp3500_x500_y100_heldout.h5"
    write_matching_prior(matching)
    names = [*PRIORS, "matching_x500_y100"]
    paths = [str(GENERATED / f) for f in PRIORS.values()] + [str(matching)]
    options = {"priors": paths, "progress": False, **json.loads(args.options)}

    t1 = time.perf_counter()
    folded = train_folds(QUAK, options, events, region, n_folds=5, seed=args.seed)
    t_train = time.perf_counter() - t1
    sr = P.in_sr(events)
    m = np.asarray(events["mjj"])
    train_sb = [(folded.folds != k) & region.in_sideband(m) for k in range(5)]
    result: dict = {
        "s_over_sqrt_b": args.s_over_sqrt_b,
        "seed": args.seed,
        "signal_in_sr": n_sig,
        "signal_injected": n_drawn,
        "background_in_sr": n_b_sr,
        "sidebands": args.sidebands,
        "options": {k: v for k, v in options.items() if k != "priors"},
        "priors": names,
        "load_s": t_load,
        "train_and_score_s": t_train,
        "method_scores": {
            "max_sic": P.max_sic(folded.scores[sr & (labels == 0)], folded.score_unseen(test)),
        },
        "cases": {},
    }
    cases = {
        "generated_priors": list(range(len(PRIORS))),
        "matching_prior": [len(PRIORS)],
        "all_priors": list(range(len(paths))),
        **{f"only_{n}": [i] for i, n in enumerate(PRIORS)},
    }
    t2 = time.perf_counter()
    losses = fold_losses(folded.models, events, folded.folds, train_sb, test)
    for case, subset in cases.items():
        s = plane_scores(losses, folded.folds, subset)
        result["cases"][case] = {
            name: {
                "max_sic": P.max_sic(d[sr & (labels == 0)], t),
                "auc": P.auc(d[sr & (labels == 0)], t),
            }
            for name, (d, t) in s.items()
        }
        print(case, json.dumps(result["cases"][case]), flush=True)
        if case == "all_priors":  # the same ranking as the method's own scores
            np.testing.assert_allclose(s["quadrant"][0], folded.scores, rtol=1e-9, atol=1e-9)
    result["cases_s"] = time.perf_counter() - t2
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({k: v for k, v in result.items() if k != "cases"}, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


def load_range(file: str, start: int, stop: int) -> EventTable:
    """Events [start, stop) of a development file, as protocol.load_split reads a split."""
    events = open_events(P.DEFAULT_DATA_DIR / file).read(P.RAW_COLUMNS, start=start, stop=stop)
    events = events.with_columns(**derive_columns(events))
    return events.take(Preselection(builtin_cuts(resolve_config({}))).apply(events))


if __name__ == "__main__":
    main()
