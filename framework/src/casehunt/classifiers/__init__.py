"""Classifier backends shared by the methods and the benchmark references.

One implementation per backend, built by name, so that a method (CWoLa, CATHODE) and the
references it is compared with (idealized anomaly detector, supervised) train exactly the
same classifier::

    clf = make_classifier("hgb", {"n_models": 4}, seed=1)
    clf.fit(X, y)
    scores = clf.predict(X_test)  # in [0, 1], higher = more like class 1

scikit-learn and torch are imported only when a backend is fitted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from casehunt.classifiers.base import (
    JET_COMBINATIONS,
    BinaryClassifier,
    balanced_weights,
    combine_jet_quantiles,
    model_seeds,
    quantile_knots,
)
from casehunt.classifiers.hgb import HGBEnsemble
from casehunt.classifiers.mlp import TorchMLP
from casehunt.errors import ConfigError

#: Backends by the name used in configurations.
CLASSIFIERS: dict[str, type[HGBEnsemble] | type[TorchMLP]] = {
    "hgb": HGBEnsemble,
    "mlp": TorchMLP,
}


def classifier_defaults(name: str) -> dict[str, Any]:
    """The options a backend accepts, with their defaults."""
    return _backend(name).default_options()


def make_classifier(name: str, options: Mapping[str, Any] | None = None, seed: int = 0) -> Any:
    """A fresh, unfitted classifier of backend `name`; unknown names or options are errors."""
    if options is not None and not isinstance(options, Mapping):
        raise ConfigError(f"classifier {name!r}: options must be a mapping, got {options!r}")
    return _backend(name).from_options(name, dict(options or {}), seed)


def kept_features(classifier: Any, names: Sequence[str]) -> list[str]:
    """The names of the input columns a fitted classifier scores on.

    Every column, unless a feature screen (``feature_screen`` of the boosted trees)
    dropped some; `names` names the columns of the matrix the classifier was fitted on.
    """
    columns = getattr(classifier, "columns_", None)
    if columns is None:
        return list(names)
    if columns and max(columns) >= len(names):
        raise ValueError(f"{len(names)} names for a classifier fitted on more columns")
    return [names[i] for i in columns]


def screen_summary(classifier: Any, names: Sequence[str]) -> dict[str, Any]:
    """A feature screen's rounds with the columns named, for a method's fit summary.

    ``{"screen": [{"features", "importance", "error"[, "reference", "reference_error"]},
    ...]}`` per round, or ``{}`` when the classifier ran no screen.
    """
    screen = getattr(classifier, "screen_", None)
    if screen is None:
        return {}
    rounds = []
    for r in screen.rounds:
        entry: dict[str, Any] = {"features": [names[i] for i in r.columns]}
        for key in ("importance", "error", "reference", "reference_error"):
            values = getattr(r, key)
            if values is not None:
                entry[key] = [round(float(v), 6) for v in values]
        rounds.append(entry)
    return {"screen": rounds}


def classifier_spec(method: str, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The backend name and its options from a method's `classifier`, `classifier_options`
    and `n_models` options, checked now so that a bad option fails before any training.
    """
    name = options["classifier"]
    if not isinstance(name, str) or name not in CLASSIFIERS:
        raise ConfigError(
            f"{method}: option 'classifier' must be one of {', '.join(CLASSIFIERS)}, got {name!r}"
        )
    extra = options["classifier_options"]
    if not isinstance(extra, Mapping):
        raise ConfigError(f"{method}: option 'classifier_options' must be a mapping, got {extra!r}")
    if "n_models" in extra:
        raise ConfigError(
            f"{method}: set the ensemble size with the method option 'n_models', "
            "not in 'classifier_options'"
        )
    n_models = options["n_models"]
    if isinstance(n_models, bool) or not isinstance(n_models, int) or n_models < 1:
        raise ConfigError(
            f"{method}: option 'n_models' must be a positive integer, got {n_models!r}"
        )
    try:
        make_classifier(name, extra, seed=0)
    except ConfigError as exc:
        raise ConfigError(f"{method}: option 'classifier_options': {exc}") from None
    return name, {**extra, "n_models": n_models}


def _backend(name: str) -> type[HGBEnsemble] | type[TorchMLP]:
    try:
        return CLASSIFIERS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown classifier {name!r}; choose one of: {', '.join(CLASSIFIERS)}"
        ) from None


__all__ = [
    "CLASSIFIERS",
    "JET_COMBINATIONS",
    "BinaryClassifier",
    "HGBEnsemble",
    "TorchMLP",
    "balanced_weights",
    "classifier_defaults",
    "classifier_spec",
    "combine_jet_quantiles",
    "make_classifier",
    "model_seeds",
    "quantile_knots",
]
