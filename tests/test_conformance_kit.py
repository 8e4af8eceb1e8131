"""The conformance kit fails methods that break the contract."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from casehunt.errors import TruthLabelAccessError
from casehunt.events import EventTable
from casehunt.methods import SelectionMethod, TrainingData
from casehunt.testing import MethodConformance, toy_sample


class Cheater(SelectionMethod):
    """Reads the truth labels."""

    name = "cheater"
    description = "reads labels"
    inputs = frozenset({"mj1"})
    default_options: ClassVar[dict[str, Any]] = {}

    def fit(self, data: TrainingData) -> None:
        self.labels = data.events["label"]

    def score(self, events: EventTable) -> np.ndarray:
        return np.asarray(events["mj1"], float)


class Sneaky(Cheater):
    """Reads a column it does not declare, and is not deterministic."""

    name = "sneaky"

    def fit(self, data: TrainingData) -> None:
        self.offset = np.random.default_rng().normal()

    def score(self, events: EventTable) -> np.ndarray:
        return np.asarray(events["tau21_j1"], float) + self.offset


@pytest.fixture(scope="module")
def toy() -> tuple[EventTable, np.ndarray]:
    return toy_sample(4000, 100, seed=1)


def test_label_reader_fails_the_kit(toy: tuple[EventTable, np.ndarray]) -> None:
    kit = type("Kit", (MethodConformance,), {"method_class": Cheater})()
    with pytest.raises(pytest.fail.Exception, match="tried to read truth labels"):
        kit.test_never_reads_truth_labels(toy)
    with pytest.raises(TruthLabelAccessError):
        kit.fit_and_score(toy[0])


def test_undeclared_columns_and_randomness_fail_the_kit(toy: tuple[EventTable, np.ndarray]) -> None:
    kit = type("Kit", (MethodConformance,), {"method_class": Sneaky})()
    with pytest.raises(AssertionError, match="tau21_j1"):
        kit.test_reads_only_declared_columns(toy)
    with pytest.raises(AssertionError):
        kit.test_deterministic_for_a_seed(toy)


class Chatty(Cheater):
    """Honest, but reports its fit with an array, which JSON cannot hold."""

    name = "chatty"

    def fit(self, data: TrainingData) -> None:
        self.mean = np.mean(np.asarray(data.events["mj1"]))

    def fit_summary(self) -> dict:
        return {"mean": np.array([self.mean])}


def test_a_fit_summary_that_is_not_json_fails_the_kit(toy: tuple[EventTable, np.ndarray]) -> None:
    from casehunt.kfold import MethodFailure

    kit = type("Kit", (MethodConformance,), {"method_class": Chatty})()
    with pytest.raises(MethodFailure, match="'chatty' returned a fit summary"):
        kit.test_one_finite_score_per_event(toy)
