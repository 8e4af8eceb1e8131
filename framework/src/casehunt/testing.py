"""A conformance suite that every selection-method plugin runs on itself.

Subclass :class:`MethodConformance` in the plugin's tests and set ``method_class`` (and
``options`` for a fast configuration)::

    from casehunt.testing import MethodConformance
    from casehunt_mymethod import MyMethod

    class TestMyMethod(MethodConformance):
        method_class = MyMethod
        options = {"n_models": 1}

Every method is held to the same checks: it declares a valid contract, reads only the
columns it declares, gives one finite score per event (and a fit summary that is a JSON
object), is deterministic for a seed, never reads truth labels, and the sideband
threshold selects the efficiency asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pytest

from casehunt.derived import derive_columns
from casehunt.errors import ConfigError, TruthLabelAccessError
from casehunt.events import TRUTH_COLUMNS, EventTable
from casehunt.kfold import checked_fit_summary, train_folds
from casehunt.methods import SelectionMethod, TrainingData, validate_method_class
from casehunt.regions import SignalRegion
from casehunt.selection import select, sideband_threshold
from casehunt.toys import make_toy_events


class SpyTable(EventTable):
    """An event table that records which columns are read."""

    def __init__(self, table: EventTable) -> None:
        super().__init__({k: table[k] for k in table.columns}, source=table.source)
        self.accessed: set[str] = set()

    def __getitem__(self, name: str) -> Any:
        self.accessed.add(name)
        return super().__getitem__(name)

    def __iter__(self) -> Iterator[str]:
        # iterating reads nothing; values read through it are recorded by __getitem__
        return super().__iter__()


def toy_sample(
    n_background: int, n_signal: int, seed: int, **options: Any
) -> tuple[EventTable, np.ndarray]:
    """Shuffled toy events with derived columns, and their labels (kept aside).

    `options` go to :func:`casehunt.toys.make_toy_events` (``n_constituents``, ``mx``...).
    """
    events, labels = make_toy_events(n_background, n_signal, seed=seed, **options)
    events = events.with_columns(**derive_columns(events))
    order = np.random.default_rng(seed).permutation(events.n_events)
    return events.take(order), labels[order]


class MethodConformance:
    """The checks every :class:`~casehunt.methods.SelectionMethod` must pass."""

    method_class: ClassVar[type[SelectionMethod]]
    options: ClassVar[dict[str, Any]] = {}
    n_background: ClassVar[int] = 20_000
    n_signal: ClassVar[int] = 400
    region: ClassVar[SignalRegion] = SignalRegion(3300.0, 3700.0, 3100.0, 3900.0)
    seed: ClassVar[int] = 7
    #: options of the toy sample (e.g. ``{"n_constituents": 30}`` for constituent methods)
    toy_options: ClassVar[dict[str, Any]] = {}

    @pytest.fixture(scope="class")
    @classmethod
    def toy(cls) -> tuple[EventTable, np.ndarray]:
        return toy_sample(cls.n_background, cls.n_signal, cls.seed, **cls.toy_options)

    def make(self, seed: int = 0) -> SelectionMethod:
        return self.method_class(dict(self.options), seed=seed)

    def training_data(self, events: EventTable) -> TrainingData:
        if self.method_class.training == "per_region":
            m = np.asarray(events["mjj"])
            events = events.take(self.region.in_region(m))
            return TrainingData.for_region(events, self.region)
        return TrainingData.for_region(events, None)

    def fit_and_score(self, events: EventTable, seed: int = 0) -> np.ndarray:
        method = self.make(seed)
        method.fit(self.training_data(events))
        return np.asarray(method.score(events))

    # The checks --------------------------------------------------------------------
    def test_declares_a_valid_contract(self) -> None:
        validate_method_class(self.method_class)
        assert self.method_class.description, "give the method a one-line `description`"

    def test_rejects_unknown_options(self) -> None:
        with pytest.raises(ConfigError, match="no_such_option"):
            self.method_class({**self.options, "no_such_option": 1}, seed=0)

    def test_one_finite_score_per_event(self, toy: tuple[EventTable, np.ndarray]) -> None:
        events, _ = toy
        method = self.make()
        method.fit(self.training_data(events))
        scores = np.asarray(method.score(events))
        assert scores.shape == (events.n_events,)
        assert np.all(np.isfinite(scores))
        assert np.unique(scores).size > 1, "a constant score cannot select anything"
        checked_fit_summary(method)  # the optional fit summary is a JSON object

    def test_deterministic_for_a_seed(self, toy: tuple[EventTable, np.ndarray]) -> None:
        events, _ = toy
        np.testing.assert_allclose(
            self.fit_and_score(events, seed=3), self.fit_and_score(events, seed=3), rtol=1e-6
        )

    def test_reads_only_declared_columns(self, toy: tuple[EventTable, np.ndarray]) -> None:
        events, _ = toy
        method = self.make()
        data = self.training_data(events)
        spy = SpyTable(data.events)
        method.fit(TrainingData(spy, data.region, data.in_signal_region, data.in_sideband))
        method.score(spy)
        undeclared = spy.accessed - set(method.required_columns()) - {"mjj"}
        assert not undeclared, f"read columns it does not declare: {sorted(undeclared)}"

    def test_never_reads_truth_labels(self, toy: tuple[EventTable, np.ndarray]) -> None:
        events, _ = toy
        assert not (set(self.make().required_columns()) & TRUTH_COLUMNS)
        # Labels are not in the table; a method asking for them gets an error and fails.
        try:
            self.fit_and_score(events)
        except TruthLabelAccessError as exc:
            pytest.fail(f"{self.method_class.name} tried to read truth labels: {exc}")

    def test_selection_efficiency_as_asked(self, toy: tuple[EventTable, np.ndarray]) -> None:
        events, _ = toy
        folded = train_folds(
            self.method_class, self.options, events, self.region, n_folds=2, seed=1
        )
        m = np.asarray(events["mjj"])
        sideband = self.region.in_sideband(m)
        for eps in (0.2, 0.05):
            threshold = sideband_threshold(folded.scores, m, self.region, eps)
            chosen = select(folded.scores, threshold)
            lo, hi = self.region.in_low_sideband(m), self.region.in_high_sideband(m)
            # the high sideband is weighted to the low one's count (CASE)
            eff = (chosen[lo].sum() + chosen[hi].sum() * lo.sum() / hi.sum()) / (2 * lo.sum())
            tolerance = 4 * np.sqrt(eps * (1 - eps) / sideband.sum()) + 1.0 / sideband.sum()
            assert abs(eff - eps) < tolerance, f"selected {eff:.4f} of the sidebands, asked {eps}"
