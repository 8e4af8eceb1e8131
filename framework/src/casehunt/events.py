"""The columnar event table that flows through casehunt.

Columns are numpy arrays sharing their first axis (the event); per-jet columns have
shape (N, 2). Jagged columns (jet constituents) are awkward arrays. Truth labels are
never stored in a table: they travel beside it (see :class:`casehunt.sample.Sample`), so
a selection method cannot read them by accident; asking for one raises
:class:`~casehunt.errors.TruthLabelAccessError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from casehunt.errors import InputError, TruthLabelAccessError

#: Column names that would carry truth information; methods may never read them.
TRUTH_COLUMNS = frozenset({"label", "labels", "is_signal", "truth", "signal"})


class MissingColumnError(InputError, KeyError):
    """A column was asked for that the table does not have."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class EventTable(Mapping[str, Any]):
    """An immutable mapping from column name to an array with one entry per event."""

    def __init__(self, columns: Mapping[str, Any], *, source: str = "events") -> None:
        self._columns: dict[str, Any] = {}
        self.source = source
        n = None
        for name, values in columns.items():
            if name in TRUTH_COLUMNS:
                raise TruthLabelAccessError(
                    f"column {name!r} looks like a truth label; labels are kept beside the "
                    "event table (Sample.labels) and never stored in it"
                )
            if not hasattr(values, "__len__"):
                raise InputError(f"{source}: column {name!r} is not an array")
            if n is None:
                n = len(values)
            elif len(values) != n:
                raise InputError(
                    f"{source}: column {name!r} has {len(values)} entries, expected {n}"
                )
            self._columns[name] = values
        self._n = 0 if n is None else n

    # Mapping interface -------------------------------------------------------------
    def __getitem__(self, name: str) -> Any:
        try:
            return self._columns[name]
        except KeyError:
            if name in TRUTH_COLUMNS:
                raise TruthLabelAccessError(
                    f"a selection method asked for {name!r}: truth labels exist only for "
                    "evaluation and are never given to methods"
                ) from None
            raise MissingColumnError(
                f"{self.source}: no column {name!r}; available: {', '.join(sorted(self._columns))}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        """Number of columns (Mapping semantics); use :attr:`n_events` for events."""
        return len(self._columns)

    def __repr__(self) -> str:
        return f"EventTable({self.n_events} events, columns={list(self._columns)})"

    @property
    def n_events(self) -> int:
        return self._n

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    # Building new tables -------------------------------------------------------------
    def take(self, index: np.ndarray) -> EventTable:
        """Rows by boolean mask or integer index (works for numpy and awkward columns)."""
        index = np.asarray(index)
        if index.dtype == bool and index.shape != (self._n,):
            raise ValueError(f"mask has shape {index.shape}, expected ({self._n},)")
        return EventTable({k: v[index] for k, v in self._columns.items()}, source=self.source)

    def with_columns(self, **new: Any) -> EventTable:
        """A new table with columns added or replaced."""
        return EventTable({**self._columns, **new}, source=self.source)

    def select_columns(self, names: Iterable[str]) -> EventTable:
        """A table with only the named columns (each must exist)."""
        return EventTable({name: self[name] for name in names}, source=self.source)

    def matrix(self, names: Sequence[str], dtype: Any = np.float64) -> np.ndarray:
        """Flat columns stacked into an (N, F) feature matrix."""
        cols = []
        for name in names:
            col = np.asarray(self[name])
            if col.ndim != 1:
                raise InputError(
                    f"{self.source}: column {name!r} has shape {col.shape}; a feature matrix "
                    "needs per-event columns (use a per-jet feature set for (N, 2) columns)"
                )
            cols.append(col.astype(dtype, copy=False))
        return np.stack(cols, axis=1) if cols else np.empty((self._n, 0), dtype=dtype)

    @staticmethod
    def concatenate(tables: Sequence[EventTable]) -> EventTable:
        """Tables with the same columns, one after the other."""
        if not tables:
            raise ValueError("nothing to concatenate")
        names = tables[0].columns
        for t in tables[1:]:
            if set(t.columns) != set(names):
                missing = set(names) ^ set(t.columns)
                raise InputError(
                    f"cannot combine {tables[0].source} and {t.source}: columns differ "
                    f"({', '.join(sorted(missing))})"
                )
        out = {}
        for name in names:
            parts = [t[name] for t in tables]
            if all(isinstance(p, np.ndarray) for p in parts):
                out[name] = np.concatenate(parts)
            else:
                import awkward as ak

                out[name] = ak.concatenate(parts)
        return EventTable(out, source=tables[0].source)


def check_finite(table: EventTable, names: Iterable[str] | None = None) -> None:
    """Raise an :class:`InputError` naming the first column with NaN or infinite values."""
    for name in table.columns if names is None else names:
        col = table[name]
        if not isinstance(col, np.ndarray) or col.dtype.kind not in "fc":
            continue
        bad = ~np.isfinite(col)
        if bad.any():
            rows = np.flatnonzero(bad.reshape(len(col), -1).any(axis=1))
            raise InputError(
                f"{table.source}: column {name!r} has {len(rows)} events with NaN or infinite "
                f"values (first at event {rows[0]}); clean the input or drop those events"
            )
