"""Named feature sets shared by the methods and the benchmark references.

A feature set is either event-level (flat columns -> an (N, F) matrix) or per-jet
((N, 2) columns -> an (N, 2, F) array, one row per jet, as CASE's per-jet networks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from casehunt.errors import ConfigError
from casehunt.events import EventTable


@dataclass(frozen=True)
class FeatureSet:
    """Columns to feed a classifier, and whether they are per event or per jet."""

    columns: tuple[str, ...]
    per_jet: bool = False

    def event_matrix(self, events: EventTable) -> np.ndarray:
        """(N, F) for an event-level set."""
        if self.per_jet:
            raise ValueError("per-jet feature set: use jet_matrix")
        return events.matrix(self.columns)

    def jet_matrix(self, events: EventTable) -> np.ndarray:
        """(N, 2, F) for a per-jet set."""
        cols = []
        for name in self.columns:
            col = np.asarray(events[name], dtype=np.float64)
            if col.ndim != 2 or col.shape[1] != 2:
                raise ConfigError(
                    f"per-jet feature {name!r} has shape {col.shape}, expected (N, 2)"
                )
            cols.append(col)
        return np.stack(cols, axis=2)


#: LHC Olympics set (CATHODE, arXiv:2109.00546): lighter jet mass, mass difference,
#: tau21 of the lighter and of the heavier jet; masses are soft-drop masses.
LHCO = FeatureSet(("mj2", "delta_mj", "tau21_j2", "tau21_j1"))
#: CASE per-jet inputs that exist at particle level (no LSF3 or b-tag here).
CASE_JET = FeatureSet(("jet_msd", "jet_tau21", "jet_tau32", "jet_tau43", "jet_nconst"), True)
#: The LHCO set extended with the higher N-subjettiness ratios.
LHCO_EXTENDED = FeatureSet(
    ("mj2", "delta_mj", "tau21_j2", "tau21_j1", "tau32_j2", "tau32_j1", "tau43_j2", "tau43_j1")
)

FEATURE_SETS: dict[str, FeatureSet] = {
    "lhco": LHCO,
    "lhco_extended": LHCO_EXTENDED,
    "case_jet": CASE_JET,
}


def resolve_features(spec: str | Sequence[str], *, per_jet: bool = False) -> FeatureSet:
    """A feature set from its name, or from an explicit list of column names."""
    if isinstance(spec, str):
        try:
            return FEATURE_SETS[spec]
        except KeyError:
            raise ConfigError(
                f"unknown feature set {spec!r}; known: {', '.join(FEATURE_SETS)}, "
                "or give a list of column names"
            ) from None
    cols = tuple(spec)
    if not cols or not all(isinstance(c, str) for c in cols):
        raise ConfigError(f"features must be a set name or a list of column names, got {spec!r}")
    return FeatureSet(cols, per_jet)


def event_features_option(spec: Any, method: str, option: str = "features") -> FeatureSet:
    """The event-level feature set a method's option names, or an error naming the option.

    For methods that learn event-level densities or weights (CATHODE, QUAK, SALAD), where
    a per-jet set has no meaning.
    """
    if not isinstance(spec, (str, Sequence)):
        raise ConfigError(
            f"{method}: option {option!r} must be a feature-set name or a list of columns, "
            f"got {spec!r}"
        )
    try:
        fs = resolve_features(spec)
    except ConfigError as exc:
        raise ConfigError(f"{method}: option {option!r}: {exc}") from None
    if fs.per_jet:
        raise ConfigError(
            f"{method}: option {option!r}: {spec!r} is a per-jet set; {method} takes "
            "event-level features (give an event-level set or a list of columns)"
        )
    return fs


def features_with_noise(feature_set: FeatureSet | str | Sequence[str], n: int) -> FeatureSet:
    """A feature set with the `n` noise columns of :func:`casehunt.variants.add_noise_features`.

    The events must carry the columns (``noise_0 .. noise_{n-1}``): add them with
    ``add_noise_features(events, n, seed)`` to every split of the dataset.
    """
    if not isinstance(feature_set, FeatureSet):
        feature_set = resolve_features(feature_set)
    if feature_set.per_jet:
        raise ConfigError("noise features are event-level; the feature set is per jet")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ConfigError(f"the number of noise features must be an integer >= 0, got {n!r}")
    from casehunt.variants import noise_columns

    return FeatureSet(feature_set.columns + noise_columns(n), per_jet=False)
