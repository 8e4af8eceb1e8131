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

``--views`` measures other signal-axis feature sets (``prior_features``) at the cost of
their prior flows only: each fold model is copied with the same background flow and new
prior flows (``QUAK.fit_priors``), exactly the model that ``prior_features: <view>``
would train with the same seed. ``--views '{"tau21": ["tau21_j1", "tau21_j2"]}'``
reports the cases once per view (``<view>/<case>``), and ``--pairs`` adds, per case, the
score "max of the quadrant scores of the two views' planes" (``<a>+<b>/<case>``).
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
from casehunt.selection import sideband_threshold
from casehunt_quak import QUAK
from casehunt_quak.method import quadrant_score, reduce_signal_axes

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


def view_models(models: list[QUAK], options: dict, view: object) -> list[QUAK]:
    """The fold models with prior flows on the features `view` and the same background flow."""
    out = []
    for model in models:
        m = QUAK({**options, "prior_features": view}, seed=model.seed)
        m.background_, m.condition_ = model.background_, model.condition_
        m.resonant_feature_ = model.resonant_feature_
        m.fit_priors()
        out.append(m)
    return out


def plane_scores(
    losses: list[dict[str, dict[str, np.ndarray]]],
    folds: np.ndarray,
    subset: list[int],
    signal_axis: str = "min",
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Out-of-fold data scores and mean-of-folds test scores for one prior subset."""
    names = ("quadrant", "llr", "background")
    out_data = {k: np.empty(len(folds)) for k in names}
    out_test = {k: np.zeros(len(losses[0]["test"]["background"])) for k in names}
    for k, fl in enumerate(losses):
        ref = fl["reference"]
        l_b = ref["background"]
        l_s = reduce_signal_axes(ref["priors"][:, subset].T, signal_axis)
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
            lb = q["background"]
            ls = reduce_signal_axes(q["priors"][:, subset].T, signal_axis)
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
    ap.add_argument(
        "--views", default="{}", help="JSON {name: prior_features} measured besides --options"
    )
    ap.add_argument("--pairs", default="[]", help='JSON [["view_a", "view_b"], ...]')
    ap.add_argument("--mixture", action="store_true", help="also signal_axis: mixture")
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
        # the fraction of the signal region's background that the core's selection at a
        # sideband efficiency eps keeps: eps when the selection sculpts no bump
        "sr_background_selected": {
            str(eps): float(
                (
                    folded.scores[sr & (labels == 0)]
                    >= sideband_threshold(folded.scores, m, region, eps)
                ).mean()
            )
            for eps in (0.1, 0.01, 0.001)
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
    main_view = "default"
    views = {main_view: folded.models}
    for view_name, view in json.loads(args.views).items():
        views[view_name] = view_models(folded.models, options, view)
    losses = {v: fold_losses(ms, events, folded.folds, train_sb, test) for v, ms in views.items()}
    axes = ["min", "mixture"] if args.mixture else ["min"]
    axes += [
        a
        for a in [options.get("signal_axis", QUAK.default_options["signal_axis"])]
        if a not in axes
    ]
    own_axis = options.get("signal_axis", QUAK.default_options["signal_axis"])
    quadrants: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = {}
    for view_name, view_losses in losses.items():
        for axis in axes:
            for case, subset in cases.items():
                s = plane_scores(view_losses, folded.folds, subset, axis)
                quadrants[view_name, axis, case] = s["quadrant"]
                label = f"{view_name}/{case}" + ("" if axis == "min" else "/mixture")
                result["cases"][label] = metrics(s, sr, labels)
                print(label, json.dumps(result["cases"][label]), flush=True)
                # the same ranking as the method's own scores
                if view_name == main_view and axis == own_axis and case == "all_priors":
                    own = s[options.get("score", QUAK.default_options["score"])][0]
                    np.testing.assert_allclose(own, folded.scores, rtol=1e-9, atol=1e-9)
    for a, b in json.loads(args.pairs):
        for axis in axes:
            for case in cases:
                qa, qb = quadrants[a, axis, case], quadrants[b, axis, case]
                s = {"quadrant": (np.maximum(qa[0], qb[0]), np.maximum(qa[1], qb[1]))}
                label = f"{a}+{b}/{case}" + ("" if axis == "min" else "/mixture")
                result["cases"][label] = metrics(s, sr, labels)
                print(label, json.dumps(result["cases"][label]), flush=True)
    result["cases_s"] = time.perf_counter() - t2
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({k: v for k, v in result.items() if k != "cases"}, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


def metrics(
    scores: dict[str, tuple[np.ndarray, np.ndarray]], sr: np.ndarray, labels: np.ndarray
) -> dict[str, dict[str, float]]:
    """Max SIC and AUC of each score: signal-region background of the data vs the test signal."""
    return {
        name: {
            "max_sic": P.max_sic(d[sr & (labels == 0)], t),
            "auc": P.auc(d[sr & (labels == 0)], t),
        }
        for name, (d, t) in scores.items()
    }


def load_range(file: str, start: int, stop: int) -> EventTable:
    """Events [start, stop) of a development file, as protocol.load_split reads a split."""
    events = open_events(P.DEFAULT_DATA_DIR / file).read(P.RAW_COLUMNS, start=start, stop=stop)
    events = events.with_columns(**derive_columns(events))
    return events.take(Preselection(builtin_cuts(resolve_config({}))).apply(events))


if __name__ == "__main__":
    main()
