"""The contract between the core and a selection method.

The core owns everything shared (preselection, regions, k-folding, injection, the
selection at a fixed efficiency, saving, statistics). A method owns only how it learns
from unlabelled events and how it scores them: higher means more anomalous.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from casehunt.errors import ConfigError
from casehunt.events import TRUTH_COLUMNS, EventTable
from casehunt.regions import SignalRegion

#: The version of this contract; the registry refuses methods built for another.
API_VERSION = 1

Training = Literal["per_region", "global"]


@dataclass(frozen=True)
class TrainingData:
    """What a method may learn from: events without labels, and where they lie.

    For a per-region method, `events` are the signal-region and sideband events of the
    training folds and `region` is set; for a global method, all events of the
    training folds and `region` may be None.
    """

    events: EventTable
    region: SignalRegion | None
    in_signal_region: np.ndarray
    in_sideband: np.ndarray
    resonant_feature: str = "mjj"

    @classmethod
    def for_region(
        cls, events: EventTable, region: SignalRegion | None, resonant_feature: str = "mjj"
    ) -> TrainingData:
        m = np.asarray(events[resonant_feature])
        if region is None:
            none = np.zeros(events.n_events, dtype=bool)
            return cls(events, None, none, none.copy(), resonant_feature)
        return cls(
            events, region, region.in_signal_region(m), region.in_sideband(m), resonant_feature
        )


class SelectionMethod(abc.ABC):
    """Base class of every anomaly-detection method.

    Subclasses set the class attributes and implement :meth:`fit` and :meth:`score`.
    ``default_options`` lists every option the method accepts; unknown keys in a
    configuration are an error naming the key.
    """

    name: ClassVar[str]
    api_version: ClassVar[int] = API_VERSION
    training: ClassVar[Training] = "per_region"
    inputs: ClassVar[frozenset[str]] = frozenset()
    default_options: ClassVar[Mapping[str, Any]] = {}
    description: ClassVar[str] = ""

    def __init__(self, options: Mapping[str, Any] | None = None, seed: int = 0) -> None:
        self.options: dict[str, Any] = resolve_options(type(self), options or {})
        self.seed = int(seed)

    def required_columns(self) -> frozenset[str]:
        """Columns this instance reads (may depend on options; defaults to `inputs`)."""
        return self.inputs

    @abc.abstractmethod
    def fit(self, data: TrainingData) -> None:
        """Learn from unlabelled events."""

    @abc.abstractmethod
    def score(self, events: EventTable) -> np.ndarray:
        """One finite float per event; higher means more anomalous."""

    def fit_summary(self) -> dict[str, Any]:
        """What the last fit chose from the data, for the run's record (JSON-serialisable).

        For example the features a classifier kept, the number of background samples
        drawn, or the epochs a flow ensemble kept. The core records it per fold next to
        the selection; nothing depends on it. Default: nothing to report.
        """
        return {}


def resolve_options(cls: type[SelectionMethod], options: Mapping[str, Any]) -> dict[str, Any]:
    """The method's defaults updated by `options`, refusing keys the method does not know."""
    unknown = sorted(set(options) - set(cls.default_options))
    if unknown:
        valid = ", ".join(sorted(cls.default_options)) or "(none)"
        raise ConfigError(
            f"method {cls.name!r}: unknown option(s) {', '.join(map(repr, unknown))}; "
            f"valid options: {valid}"
        )
    return {**cls.default_options, **options}


def validate_method_class(cls: Any) -> None:
    """Check a class returned by a plugin before it enters the registry."""
    if not (isinstance(cls, type) and issubclass(cls, SelectionMethod)):
        raise TypeError(f"{cls!r} is not a SelectionMethod subclass")
    if not isinstance(getattr(cls, "name", None), str) or not cls.name:
        raise TypeError(f"{cls.__qualname__} has no `name`")
    if cls.api_version != API_VERSION:
        raise TypeError(
            f"method {cls.name!r} targets method API {cls.api_version}, this casehunt "
            f"provides {API_VERSION}"
        )
    if cls.training not in ("per_region", "global"):
        raise TypeError(f"method {cls.name!r}: training must be 'per_region' or 'global'")
    leaked = set(cls.inputs) & TRUTH_COLUMNS
    if leaked:
        raise TypeError(f"method {cls.name!r} declares truth labels as inputs: {sorted(leaked)}")
