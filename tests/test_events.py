from __future__ import annotations

import numpy as np
import pytest

from casehunt.errors import InputError, TruthLabelAccessError
from casehunt.events import EventTable, MissingColumnError, check_finite


def table() -> EventTable:
    return EventTable({"mjj": np.arange(5.0), "jet_pt": np.ones((5, 2))}, source="t.h5")


def test_columns_share_the_event_axis() -> None:
    with pytest.raises(InputError, match="'b' has 3 entries, expected 5"):
        EventTable({"a": np.zeros(5), "b": np.zeros(3)})


def test_take_and_matrix() -> None:
    t = table().take(np.array([True, False, True, False, True]))
    assert t.n_events == 3
    np.testing.assert_array_equal(t.matrix(["mjj"])[:, 0], [0.0, 2.0, 4.0])
    with pytest.raises(InputError, match="per-jet"):
        t.matrix(["jet_pt"])


def test_missing_column_names_the_file_and_column() -> None:
    with pytest.raises(MissingColumnError, match=r"t\.h5: no column 'tau21'"):
        table()["tau21"]


@pytest.mark.parametrize("name", ["label", "is_signal"])
def test_truth_labels_cannot_be_stored_or_read(name: str) -> None:
    with pytest.raises(TruthLabelAccessError):
        table()[name]
    with pytest.raises(TruthLabelAccessError):
        EventTable({name: np.zeros(3)})


def test_check_finite_names_the_column() -> None:
    t = EventTable({"mjj": np.array([1.0, np.nan, 3.0]), "x": np.array([1.0, 2.0, np.inf])})
    with pytest.raises(InputError, match="'mjj' has 1 events with NaN"):
        check_finite(t)


def test_concatenate_checks_columns() -> None:
    a = EventTable({"x": np.zeros(2)})
    assert EventTable.concatenate([a, a]).n_events == 4
    with pytest.raises(InputError, match="columns differ"):
        EventTable.concatenate([a, EventTable({"y": np.zeros(2)})])
