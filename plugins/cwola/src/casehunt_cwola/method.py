"""CWoLa hunting: classification without labels, signal region against sidebands.

Metodiev, Nachman, Thaler (arXiv:1708.02949) showed that a classifier trained to tell
apart two mixed samples with different signal fractions is, at its optimum, a monotonic
function of the signal-to-background likelihood ratio. CWoLa hunting (Collins, Howe,
Nachman, arXiv:1805.02664 and arXiv:1902.02634) takes the two samples from a resonance
search: events in a signal-region window of mjj (label 1) and in the sidebands next to
it (label 0). Features that do not depend on mjj have the same background distribution
in both, so the classifier can only learn a localised signal; with none, it learns
nothing and its selection keeps the smooth mjj spectrum.

CMS used it in the CASE search (arXiv:2412.03747) with per-jet classifiers: both jets of
an event are separate training rows with the event's label, the per-jet scores are
quantile-transformed and the event score is max(q1, q2). Both the event-level (LHC
Olympics features) and the per-jet mode are here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from casehunt.classifiers import (
    JET_COMBINATIONS,
    classifier_spec,
    combine_jet_quantiles,
    kept_features,
    make_classifier,
    quantile_knots,
)
from casehunt.errors import ConfigError, RegionError
from casehunt.events import EventTable, check_finite
from casehunt.features import LHCO, FeatureSet, resolve_features
from casehunt.methods import SelectionMethod, TrainingData


class CWoLaHunting(SelectionMethod):
    """Per signal region, a classifier of signal-region against sideband events."""

    name: ClassVar[str] = "cwola"
    training = "per_region"
    inputs: ClassVar[frozenset[str]] = frozenset(LHCO.columns)
    description: ClassVar[str] = (
        "CWoLa hunting: a classifier learns signal region against sidebands "
        "(arXiv:1805.02664, arXiv:1902.02634)"
    )
    default_options: ClassVar[Mapping[str, Any]] = {
        # a named feature set ("lhco", "lhco_extended", "case_jet") or a list of columns
        "features": "lhco",
        # None: the named set's own mode (event-level for a list); True: per-jet (CASE)
        "per_jet": None,
        # a backend of casehunt.classifiers: "hgb" (boosted trees) or "mlp" (torch)
        "classifier": "hgb",
        # per-jet mode: event score from the jets' quantiles, "max" (CASE CWoLa),
        # "product" (CASE Tag N' Train), which asks both jets to look anomalous, or
        # "fisher", -log((1 - q1)(1 - q2)) (casehunt.classifiers.combine_jet_quantiles)
        "combine": "max",
        # ensemble size inside each fold (CASE: 4)
        "n_models": 4,
        # passed to the classifier backend
        "classifier_options": {},
    }

    def __init__(self, options: Mapping[str, Any] | None = None, seed: int = 0) -> None:
        super().__init__(options, seed)
        self.feature_set = _feature_set(self.options["features"], self.options["per_jet"])
        self._classifier_args = classifier_spec(self.name, self.options)  # fails on bad options now
        if self.options["combine"] not in JET_COMBINATIONS:
            raise ConfigError(
                f"cwola: option 'combine' must be one of {', '.join(JET_COMBINATIONS)}, "
                f"got {self.options['combine']!r}"
            )
        self.classifier_: Any = None
        self.quantile_knots_: tuple[np.ndarray, np.ndarray] | None = None

    def required_columns(self) -> frozenset[str]:
        return frozenset(self.feature_set.columns)

    def fit(self, data: TrainingData) -> None:
        """Train signal region (1) against sidebands (0); truth labels are never used."""
        in_sr = np.asarray(data.in_signal_region, dtype=bool)
        in_sb = np.asarray(data.in_sideband, dtype=bool)
        used = in_sr | in_sb
        where = f"region {data.region.name}" if data.region is not None else "the training data"
        if not in_sr.any() or not in_sb.any():
            raise RegionError(
                f"cwola: {where} has {int(in_sr.sum())} signal-region and {int(in_sb.sum())} "
                "sideband events; CWoLa needs both (check the window and the sidebands)"
            )
        events = data.events.take(used)
        y = in_sr[used].astype(np.int64)
        X = self._rows(events)
        if self.feature_set.per_jet:
            y = np.repeat(y, 2)  # each jet carries its event's label
        self.classifier_ = make_classifier(*self._classifier_args, seed=self.seed)
        self.classifier_.fit(X, y)
        if self.feature_set.per_jet:
            self.quantile_knots_ = quantile_knots(self.classifier_.predict(X))

    def fit_summary(self) -> dict[str, Any]:
        """The features the classifier scores on (fewer than given after a feature screen)."""
        if self.classifier_ is None:
            return {}
        return {"features": kept_features(self.classifier_, self.feature_set.columns)}

    def score(self, events: EventTable) -> np.ndarray:
        """The classifier output; per jet, the two jets' quantile scores combined (``combine``)."""
        if self.classifier_ is None:
            raise RuntimeError("cwola: score called before fit")
        s = np.asarray(self.classifier_.predict(self._rows(events)), dtype=np.float64)
        if not self.feature_set.per_jet:
            return s
        assert self.quantile_knots_ is not None
        q = np.interp(s, *self.quantile_knots_).reshape(events.n_events, 2)
        return combine_jet_quantiles(q, self.options["combine"])

    def _rows(self, events: EventTable) -> np.ndarray:
        """(N, F) event features, or (2N, F) jet features with the jets of an event adjacent."""
        check_finite(events, self.feature_set.columns)
        if not self.feature_set.per_jet:
            return self.feature_set.event_matrix(events)
        jets = self.feature_set.jet_matrix(events)
        return jets.reshape(2 * events.n_events, len(self.feature_set.columns))


def _feature_set(spec: Any, per_jet: Any) -> FeatureSet:
    if per_jet not in (None, True, False):
        raise ConfigError(f"cwola: option 'per_jet' must be true, false or null, got {per_jet!r}")
    if not isinstance(spec, str) and not isinstance(spec, Sequence):
        raise ConfigError(
            f"cwola: option 'features' must be a feature-set name or a list of columns, "
            f"got {spec!r}"
        )
    try:
        fs = resolve_features(spec, per_jet=bool(per_jet))
    except ConfigError as exc:
        raise ConfigError(f"cwola: option 'features': {exc}") from None
    if per_jet is not None and fs.per_jet != per_jet:
        mode = "per-jet" if fs.per_jet else "event-level"
        raise ConfigError(
            f"cwola: option 'per_jet' is {per_jet} but feature set {spec!r} is {mode}; "
            "drop 'per_jet' or give a list of columns"
        )
    return fs
