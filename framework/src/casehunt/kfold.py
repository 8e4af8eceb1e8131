"""Training a method with k-folding: out-of-fold scores for every event.

CASE (arXiv:2412.03747, Sec. 5) split the data in folds; the models of fold k train on
the other folds and score fold k, so no event is scored by a model that saw it. Events
outside the signal region and sidebands are scored too, by the model of their fold, since
selected events at any mjj go to the background fit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from casehunt.errors import CasehuntError, RegionError
from casehunt.events import EventTable
from casehunt.folds import assign_folds
from casehunt.methods import SelectionMethod, TrainingData
from casehunt.regions import SignalRegion


class MethodFailure(CasehuntError):
    """A method raised or returned bad scores; the message names the method and region."""


@dataclass
class FoldedScores:
    """Out-of-fold scores for every event, and the fitted model of each fold."""

    scores: np.ndarray
    folds: np.ndarray
    models: list[SelectionMethod]

    def score_unseen(self, events: EventTable) -> np.ndarray:
        """Score events no model trained on (a test sample): the mean over fold models."""
        return np.mean([_checked_scores(m, events, "test") for m in self.models], axis=0)

    def fit_summaries(self) -> list[dict[str, Any]]:
        """Each fold model's :meth:`~casehunt.methods.SelectionMethod.fit_summary`."""
        return [checked_fit_summary(m) for m in self.models]


def fold_seed(seed: int, fold: int) -> int:
    """Independent, reproducible seeds for the model of each fold."""
    return int(np.random.SeedSequence([seed, fold]).generate_state(1)[0])


def _checked_scores(method: SelectionMethod, events: EventTable, where: str) -> np.ndarray:
    scores = np.asarray(method.score(events), dtype=np.float64)
    if scores.shape != (events.n_events,):
        raise MethodFailure(
            f"method {method.name!r} returned scores of shape {scores.shape} for {where} events, "
            f"expected ({events.n_events},)"
        )
    if not np.all(np.isfinite(scores)):
        raise MethodFailure(f"method {method.name!r} returned non-finite scores for {where} events")
    return scores


def checked_fit_summary(method: SelectionMethod) -> dict[str, Any]:
    """The method's fit summary, refused with its name unless it is a JSON object."""
    summary = method.fit_summary()
    try:
        if not isinstance(summary, dict):
            raise TypeError(f"a {type(summary).__name__}, not a dict")
        json.dumps(summary, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise MethodFailure(
            f"method {method.name!r} returned a fit summary that is not a JSON object: {exc}"
        ) from None
    return summary


def scores_in_event_order(fold_scores: Sequence[np.ndarray], folds: np.ndarray) -> np.ndarray:
    """Every event's out-of-fold score, from the scores of each fold's own events."""
    scores = np.empty(len(folds), dtype=np.float64)
    for k, part in enumerate(fold_scores):
        scores[folds == k] = part
    return scores


def check_region(
    method_cls: type[SelectionMethod], m: np.ndarray, region: SignalRegion | None
) -> np.ndarray | None:
    """The events a per-region method may train on (None: all), after checking the region."""
    if method_cls.training != "per_region" or region is None:
        return None
    if not region.in_signal_region(m).any():
        raise RegionError(
            f"region {region.name}: no events in the signal region "
            f"[{region.low:g}, {region.high:g}); check the window and the preselection"
        )
    if not region.in_sideband(m).any():
        raise RegionError(f"region {region.name}: no events in the sidebands")
    return region.in_region(m)


def train_fold(
    method_cls: type[SelectionMethod],
    options: Mapping[str, Any],
    events: EventTable,
    region: SignalRegion | None,
    folds: np.ndarray,
    k: int,
    *,
    seed: int = 0,
    resonant_feature: str = "mjj",
) -> tuple[SelectionMethod, np.ndarray]:
    """The model of fold `k` and its scores for the events of fold `k` (in event order).

    One unit of work of the k-folding: a pure function of its inputs and seed, so the
    folds of a run can be trained in one process or as separate tasks on a cluster.
    """
    usable = check_region(method_cls, np.asarray(events[resonant_feature]), region)
    train = folds != k
    if usable is not None:
        train &= usable
    model = method_cls(options, seed=fold_seed(seed, k))
    try:
        model.fit(TrainingData.for_region(events.take(train), region, resonant_feature))
    except CasehuntError:
        raise
    except Exception as exc:
        where = f" in region {region.name}" if region else ""
        raise MethodFailure(
            f"method {method_cls.name!r} failed to train fold {k}{where}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return model, _checked_scores(model, events.take(folds == k), f"fold {k}")


def train_folds(
    method_cls: type[SelectionMethod],
    options: Mapping[str, Any],
    events: EventTable,
    region: SignalRegion | None,
    *,
    n_folds: int = 5,
    seed: int = 0,
    folds: np.ndarray | None = None,
    resonant_feature: str = "mjj",
    on_fold: Callable[[int], None] | None = None,
) -> FoldedScores:
    """Fit one model per fold and score every event with the model that did not see it."""
    if folds is None:
        folds = assign_folds(events.n_events, n_folds, seed)
    check_region(method_cls, np.asarray(events[resonant_feature]), region)
    parts, models = [], []
    for k in range(int(folds.max()) + 1):
        model, part = train_fold(
            method_cls, options, events, region, folds, k,
            seed=seed, resonant_feature=resonant_feature,
        )  # fmt: skip
        parts.append(part)
        models.append(model)
        if on_fold is not None:
            on_fold(k)
    return FoldedScores(scores_in_event_order(parts, folds), folds, models)
