"""What every classifier backend provides, and the option handling they share.

Weakly supervised methods (CWoLa, CATHODE) and the benchmark references (idealized
anomaly detector, supervised) must train the same classifier on the same features for
their numbers to be comparable, so the backends live here, in the core, and are built by
name through :func:`casehunt.classifiers.make_classifier`. The ML libraries (scikit-learn,
torch) are imported only when a backend is fitted: the core does not require them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from casehunt.errors import ConfigError


@runtime_checkable
class BinaryClassifier(Protocol):
    """A binary classifier whose output is a score in [0, 1] (higher = more like class 1)."""

    def fit(
        self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> BinaryClassifier: ...

    def predict(self, X: np.ndarray) -> np.ndarray: ...


def balanced_weights(y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Per-event weights giving both classes the same total weight (sum = number of events).

    Weakly supervised training has unequal classes (signal region against sidebands, data
    against a template); balancing keeps the optimum at the likelihood ratio up to a
    constant, which is all a score threshold needs.
    """
    y = np.asarray(y).astype(bool)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    out = np.empty(len(y))
    for cls in (False, True):
        total = w[y == cls].sum()
        if total <= 0:
            raise ValueError(f"class {int(cls)} has no events (or zero weight) to train on")
        out[y == cls] = w[y == cls] * len(y) / (2.0 * total)
    return out


def check_training_input(
    X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validated float features, 0/1 labels and weights, with messages that say what is wrong."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"features must be a 2-d array (events, features), got shape {X.shape}")
    if y.shape != (len(X),):
        raise ValueError(f"labels have shape {y.shape}, expected ({len(X)},)")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if np.unique(y).size < 2:
        raise ValueError("both classes are needed to train a classifier")
    if not np.all(np.isfinite(X)):
        raise ValueError("features contain NaN or infinite values")
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        if sample_weight.shape != (len(X),):
            raise ValueError(f"sample_weight has shape {sample_weight.shape}, expected ({len(X)},)")
    return X, y.astype(np.int64), sample_weight


def model_seeds(seed: int, n: int) -> list[int]:
    """Independent, reproducible seeds for the members of an ensemble."""
    return [int(s) for s in np.random.SeedSequence(int(seed)).generate_state(n)]


def stratified_split(
    y: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a training and a validation part, each class split in the same proportion."""
    train, valid = [], []
    for cls in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == cls))
        n_valid = min(max(1, round(fraction * len(idx))), len(idx) - 1)
        valid.append(idx[:n_valid])
        train.append(idx[n_valid:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(valid))


class OptionsMixin:
    """Options of a dataclass backend: its fields except `seed`, validated by name."""

    #: value checks, option name -> (predicate, what is expected)
    checks: ClassVar[dict[str, tuple[Any, str]]] = {}

    @classmethod
    def default_options(cls) -> dict[str, Any]:
        return {
            f.name: f.default
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if f.name != "seed" and f.init
        }

    @classmethod
    def from_options(cls, name: str, options: Mapping[str, Any], seed: int) -> Any:
        known = cls.default_options()
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ConfigError(
                f"classifier {name!r}: unknown option(s) {', '.join(map(repr, unknown))}; "
                f"valid options: {', '.join(sorted(known))}"
            )
        for key, value in options.items():
            check = cls.checks.get(key)
            if check is not None and not check[0](value):
                raise ConfigError(
                    f"classifier {name!r}: option {key!r} must be {check[1]}, got {value!r}"
                )
        return cls(seed=int(seed), **options)  # type: ignore[call-arg]


def is_positive_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and bool(v > 0)


def is_fraction(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 < v < 1.0


def is_positive_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


def quantile_knots(train_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots of a strictly increasing map from classifier score to its training quantile.

    Per-jet methods (CASE's CWoLa and Tag N' Train) turn each jet's classifier score into
    its quantile among the training jets before combining the two jets. Mid-rank
    quantiles, pinned to 0 and 1 at the ends of the classifier's [0, 1] range, so that
    unseen jets beyond the training extremes keep their order instead of tying at 0 or 1
    (the selection works in the far tail, where ties would make the threshold select in
    steps). Apply with ``np.interp(scores, *knots)``.
    """
    values, counts = np.unique(np.asarray(train_scores, dtype=np.float64), return_counts=True)
    cdf = (np.cumsum(counts) - 0.5 * counts) / counts.sum()
    x = np.concatenate([[min(0.0, values[0] - 1e-12)], values, [max(1.0, values[-1] + 1e-12)]])
    q = np.concatenate([[0.0], cdf, [1.0]])
    keep = np.concatenate([[True], np.diff(x) > 0])
    return x[keep], q[keep]


#: smallest per-jet tail probability in the Fisher combination (keeps the score finite)
TAIL_FLOOR = 1e-12

#: how per-jet methods combine the two jets' quantiles into an event score
JET_COMBINATIONS = ("max", "product", "fisher")


def combine_jet_quantiles(q: np.ndarray, how: str) -> np.ndarray:
    """The event score from the (N, 2) quantiles of its jets' classifier scores.

    ``max``: either jet; ``product``: q1 * q2 (CASE); ``fisher``: -log((1 - q1)(1 - q2)).
    1 - q is a jet's background tail probability among the training jets (a p-value); for
    independent jets their product is the background efficiency of the pair, and -log of
    it is Fisher's combination of independent p-values (R. A. Fisher, Statistical Methods
    for Research Workers, 4th ed., 1932). q1 * q2 saturates at 1 in the far tail, where
    the selection works; Fisher's keeps ordering the tail by the pair's efficiency.
    """
    q = np.asarray(q, dtype=np.float64)
    if how == "max":
        return q.max(axis=1)
    if how == "product":
        return q[:, 0] * q[:, 1]
    if how == "fisher":
        return -np.log(np.clip(1.0 - q, TAIL_FLOOR, 1.0)).sum(axis=1)
    raise ValueError(f"unknown jet combination {how!r}; expected one of {JET_COMBINATIONS}")
