"""Feature screening by held-out permutation importance, for weakly supervised training.

Boosted trees lose much of a small signal when irrelevant features are added: at a few
hundred signal events their splits on the noise columns blur the far tail
(plugins/cathode/README.md). No single feature's distribution tells the noise from the
real features there (benchmarks/noise_marginals.py), but the classifier's joint view
can: within the training events only, an inner cross-validation trains the classifier,
shuffles one feature at a time in the held-out part and measures how much the class-
balanced log loss grows (permutation importance, L. Breiman, Machine Learning 45 (2001)
5, Sec. 10). Features that fail a rule on it (mean importance over the inner folds
above 0, or one standard error above 0) are dropped and the classifier is trained again
on the rest. Only the training labels of the weakly supervised problem
(data against template, signal region against sidebands) enter: no truth labels, and
the events a model scores never take part in choosing its features.

When the two classes can differ without any signal, a feature is important for that
reason too: CATHODE's template comes from a flow, and the flow's mismodelling of a
column is a real difference between data and template. A ``reference`` problem with the
same mismodelling and no signal (CATHODE: held-out sideband data against the flow's
samples there) measures that part, and the rule is applied to the excess of the
importance over the reference's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from casehunt.classifiers.base import balanced_weights
from casehunt.folds import assign_folds

#: screening rules: keep a feature when its mean importance over the inner folds is
#: above 0 (``positive``) or above one standard error of that mean (``one_se``)
SCREEN_RULES = ("positive", "one_se")


def balanced_log_loss(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
    """Weighted binary cross entropy, the weights already balancing the classes."""
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.sum(w * (y * np.log(p) + (1 - y) * np.log1p(-p))) / np.sum(w))


def permutation_importance(
    model: Any,
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    rng: np.random.Generator,
    repeats: int,
) -> np.ndarray:
    """Growth of the balanced log loss on (X, y) when each column is shuffled."""
    reference = balanced_log_loss(y, model.predict(X), w)
    out = np.empty(X.shape[1])
    for j in range(X.shape[1]):
        losses = []
        for _ in range(repeats):
            shuffled = X.copy()
            shuffled[:, j] = rng.permutation(shuffled[:, j])
            losses.append(balanced_log_loss(y, model.predict(shuffled), w))
        out[j] = np.mean(losses) - reference
    return out


def stratified_folds(y: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """A fold per event, each class spread evenly over the folds."""
    folds = np.empty(len(y), dtype=np.int64)
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        if len(idx) < n_folds:
            raise ValueError(
                f"feature screen: class {cls} has {len(idx)} training events, fewer than "
                f"the {n_folds} inner folds (option 'screen_folds')"
            )
        folds[idx] = assign_folds(len(idx), n_folds, seed + cls)
    return folds


def importance_over_folds(
    make_model: Callable[[int], Any],
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    *,
    n_folds: int,
    repeats: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean held-out importance of every column over `n_folds` inner folds, and its
    standard error. ``make_model(i)`` builds the unfitted model of inner fold i."""
    folds = stratified_folds(y, n_folds, seed)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    per_fold = []
    for i in range(n_folds):
        train, held = folds != i, folds == i
        w_train = None if sample_weight is None else sample_weight[train]
        model = make_model(i).fit(X[train], y[train], sample_weight=w_train)
        w_held = balanced_weights(y[held], None if sample_weight is None else sample_weight[held])
        per_fold.append(permutation_importance(model, X[held], y[held], w_held, rng, repeats))
    imp = np.array(per_fold)
    return imp.mean(axis=0), imp.std(axis=0, ddof=1) / np.sqrt(n_folds)


def keep_by_rule(mean: np.ndarray, se: np.ndarray, rule: str) -> np.ndarray:
    """Indices of the columns a rule keeps; the most important one if it keeps none."""
    if rule == "positive":
        keep = mean > 0
    elif rule == "one_se":
        keep = mean > se
    else:
        raise ValueError(f"unknown screening rule {rule!r}; expected one of {SCREEN_RULES}")
    return np.flatnonzero(keep) if keep.any() else np.array([int(np.argmax(mean))])


@dataclass(frozen=True)
class ScreenRound:
    """One round of a screen: the columns it screened and their importance (mean over the
    inner folds and its standard error); with a reference, the reference's importance,
    which the rule subtracts."""

    columns: list[int]
    importance: list[float]
    error: list[float]
    reference: list[float] | None = None
    reference_error: list[float] | None = None


@dataclass(frozen=True)
class Screen:
    """The columns that survive a screen, and its rounds."""

    columns: list[int]
    rounds: list[ScreenRound]


#: a reference problem: features, labels and optional weights, with X's columns
Reference = tuple[np.ndarray, np.ndarray, np.ndarray | None]


def screen_features(
    make_model: Callable[[int], Any],
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    rule: str = "positive",
    rounds: int = 1,
    n_folds: int = 4,
    repeats: int = 5,
    seed: int = 0,
    reference: Reference | None = None,
) -> Screen:
    """The columns of X that survive `rounds` of screening (each on the last survivors:
    with fewer noise columns to split on, the real ones show more clearly).

    With a `reference` problem (same columns, no signal), each round applies the rule to
    the importance in excess of the reference's, with their errors added in quadrature.
    """
    if reference is not None and np.shape(reference[0])[1:] != X.shape[1:]:
        raise ValueError(
            f"feature screen: the reference has {np.shape(reference[0])[1]} columns, "
            f"the training events {X.shape[1]}"
        )
    cols = np.arange(X.shape[1])
    history = []
    for r in range(rounds):
        options = {"n_folds": n_folds, "repeats": repeats, "seed": seed + 1000 * r}
        mean, se = importance_over_folds(make_model, X[:, cols], y, sample_weight, **options)
        entry = ScreenRound([int(c) for c in cols], mean.tolist(), se.tolist())
        if reference is not None:
            X_ref, y_ref, w_ref = reference
            ref_mean, ref_se = importance_over_folds(
                make_model, np.asarray(X_ref)[:, cols], y_ref, w_ref, **options
            )
            entry = replace(entry, reference=ref_mean.tolist(), reference_error=ref_se.tolist())
            mean, se = mean - ref_mean, np.hypot(se, ref_se)
        history.append(entry)
        cols = cols[keep_by_rule(mean, se, rule)]
    return Screen([int(c) for c in cols], history)
