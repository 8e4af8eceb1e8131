"""The benchmark protocol of ../shared/BENCHMARK.md, shared by the method benchmarks.

Loading and preselecting the development dataset's splits, injecting signal by
S/sqrt(B) in the signal region, the references trained with the same classifier as the
methods (idealized anomaly detector, supervised), and the metrics (max SIC with at least
25 test background events passing, AUC). This module uses truth labels: it is for
evaluation only and lives outside every plugin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from casehunt.classifiers import make_classifier
from casehunt.derived import derive_columns
from casehunt.events import EventTable
from casehunt.features import FeatureSet
from casehunt.folds import assign_folds
from casehunt.formats.common import JET_FLOATS
from casehunt.kfold import fold_seed
from casehunt.preselection import Preselection, builtin_cuts, resolve_config
from casehunt.readers import open_events
from casehunt.regions import SignalRegion

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "lhcolike"
QCD_FILE = "qcd.h5"
SIGNAL_FILE = "signal_wp3500_x500_y100.h5"

#: BENCHMARK.md splits: (file, first event, last event + 1)
SPLITS: dict[str, tuple[str, int, int]] = {
    "data_background": (QCD_FILE, 0, 300_000),
    "template": (QCD_FILE, 300_000, 500_000),
    "signal_pool": (SIGNAL_FILE, 0, 10_000),
    "test_signal": (SIGNAL_FILE, 10_000, 20_000),
}
#: The raw columns every derived feature of the LHCO and CASE sets comes from.
RAW_COLUMNS = ("mjj", *JET_FLOATS, "jet_nconst")
#: The working point: signal region 3.3-3.7 TeV.
SR_LOW, SR_HIGH = 3300.0, 3700.0
#: S/sqrt(B) points of the protocol.
POINTS = (3.0, 2.0, 1.5, 1.0, 0.75, 0.0)
#: Max SIC counts only thresholds that at least this many test background events pass.
MIN_BACKGROUND = 25


@dataclass
class Splits:
    """The preselected splits, with derived columns, and the cutflow of each."""

    data_background: EventTable
    template: EventTable
    signal_pool: EventTable
    test_signal: EventTable
    cutflows: dict[str, dict[str, Any]]


def load_split(
    data_dir: Path, name: str, signal_file: Path | None = None
) -> tuple[EventTable, dict[str, Any]]:
    """One split read with the core reader, derived columns added, the CASE preselection applied.

    `signal_file` replaces the dataset's signal file (same layout, at least 20,000 events).
    """
    file, start, stop = SPLITS[name]
    path = signal_file if (signal_file is not None and file == SIGNAL_FILE) else data_dir / file
    events = open_events(path).read(RAW_COLUMNS, start=start, stop=stop)
    events = events.with_columns(**derive_columns(events))
    presel = Preselection(builtin_cuts(resolve_config({})))
    keep = presel.apply(events)
    return events.take(keep), presel.cutflow.to_dict()


def load_splits(data_dir: Path, signal_file: Path | None = None) -> Splits:
    tables, flows = {}, {}
    for name in SPLITS:
        tables[name], flows[name] = load_split(data_dir, name, signal_file)
    return Splits(**tables, cutflows=flows)


def in_sr(events: EventTable) -> np.ndarray:
    m = np.asarray(events["mjj"])
    return (m >= SR_LOW) & (m < SR_HIGH)


def n_signal_for(point: float, n_background_sr: int) -> int:
    """Signal events in the signal region for S/sqrt(B) = point (433, 289, ... at B = 20,827)."""
    return round(point * np.sqrt(n_background_sr))


def inject(
    background: EventTable, pool: EventTable, n_signal_sr: int, rng: np.random.Generator
) -> tuple[EventTable, np.ndarray, int]:
    """Background plus signal drawn at random from the pool, `n_signal_sr` of it in the SR.

    Pool events are drawn in random order until `n_signal_sr` of them fall in the signal
    region; the others drawn on the way (about 13%) land at other mjj, sidebands included,
    as a real signal would. Returns the events, their labels and the signal count in all.
    """
    order = rng.permutation(pool.n_events)
    sr_positions = np.flatnonzero(in_sr(pool)[order])
    if n_signal_sr > len(sr_positions):
        raise ValueError(f"the pool has only {len(sr_positions)} signal-region events")
    n_drawn = 0 if n_signal_sr == 0 else int(sr_positions[n_signal_sr - 1]) + 1
    signal = pool.take(np.sort(order[:n_drawn]))
    events = EventTable.concatenate([background, signal])
    labels = np.concatenate([np.zeros(background.n_events, np.int8), np.ones(n_drawn, np.int8)])
    return events, labels, n_drawn


# References --------------------------------------------------------------------------------


def iad_scores(
    data_sr: np.ndarray,
    template_sr: np.ndarray,
    test: np.ndarray,
    *,
    classifier: str,
    options: Mapping[str, Any],
    n_folds: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Idealized anomaly detector: signal-region data (1) against the background template (0).

    k-folded over the data like the methods: the models of fold k train on the other
    folds of the data and the whole template, and score fold k; `test` events are scored
    by the mean of the fold models. Returns (out-of-fold data scores, test scores).
    """
    folds = assign_folds(len(data_sr), n_folds, seed)
    out = np.empty(len(data_sr))
    test_scores = np.zeros(len(test))
    for k in range(n_folds):
        train = folds != k
        X = np.concatenate([data_sr[train], template_sr])
        y = np.concatenate([np.ones(int(train.sum())), np.zeros(len(template_sr))])
        clf = make_classifier(classifier, options, seed=fold_seed(seed, k)).fit(X, y)
        out[~train] = clf.predict(data_sr[~train])
        test_scores += clf.predict(test) / n_folds
    return out, test_scores


def supervised_scores(
    signal_sr: np.ndarray,
    template_sr: np.ndarray,
    evaluate: Sequence[np.ndarray],
    *,
    classifier: str,
    options: Mapping[str, Any],
    seed: int,
) -> list[np.ndarray]:
    """Fully supervised: signal-pool events (1) against the template (0), true labels."""
    X = np.concatenate([signal_sr, template_sr])
    y = np.concatenate([np.ones(len(signal_sr)), np.zeros(len(template_sr))])
    clf = make_classifier(classifier, options, seed=seed).fit(X, y)
    return [clf.predict(x) for x in evaluate]


def feature_matrix(features: FeatureSet, events: EventTable) -> np.ndarray:
    if features.per_jet:
        raise ValueError("the references take an event-level feature set")
    return features.event_matrix(events)


# Metrics -----------------------------------------------------------------------------------


def max_sic(
    background: np.ndarray, signal: np.ndarray, min_background: int = MIN_BACKGROUND
) -> float:
    """max over thresholds of eps_S / sqrt(eps_B), where >= `min_background` background pass.

    Thresholds are taken between distinct score values (ties pass or fail together).
    """
    scores = np.concatenate([background, signal])
    is_sig = np.concatenate([np.zeros(len(background)), np.ones(len(signal))])
    order = np.argsort(-scores, kind="stable")
    s_sorted = scores[order]
    n_s = np.cumsum(is_sig[order])
    n_b = np.arange(1, len(scores) + 1) - n_s
    # the last position of each run of equal scores: a threshold just below that value
    last = np.append(s_sorted[1:] != s_sorted[:-1], True)
    n_s, n_b = n_s[last], n_b[last]
    ok = n_b >= min_background
    if not ok.any():
        return float("nan")
    eps_s = n_s[ok] / len(signal)
    eps_b = n_b[ok] / len(background)
    return float(np.max(eps_s / np.sqrt(eps_b)))


def auc(background: np.ndarray, signal: np.ndarray) -> float:
    """Area under the ROC curve (probability that a signal event outscores a background one)."""
    from sklearn.metrics import roc_auc_score

    y = np.concatenate([np.zeros(len(background)), np.ones(len(signal))])
    return float(roc_auc_score(y, np.concatenate([background, signal])))


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median and 16-84% range, the protocol's summary of the seeds."""
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    if v.size == 0:
        return {"median": float("nan"), "p16": float("nan"), "p84": float("nan"), "n": 0}
    p16, med, p84 = np.percentile(v, [16, 50, 84])
    return {"median": float(med), "p16": float(p16), "p84": float(p84), "n": int(v.size)}


def fmt(s: Mapping[str, float], digits: int = 2) -> str:
    if s["n"] == 0:
        return "n/a"
    if s["n"] == 1:
        return f"{s['median']:.{digits}f}"
    return f"{s['median']:.{digits}f} [{s['p16']:.{digits}f}, {s['p84']:.{digits}f}]"


def sr_region(sideband_width: float) -> SignalRegion:
    return SignalRegion(SR_LOW, SR_HIGH, SR_LOW - sideband_width, SR_HIGH + sideband_width)
