"""Event readers, and the built-in reader of the casehunt HDF5 layout.

A reader turns one file into :class:`~casehunt.events.EventTable` chunks, so a file larger
than memory can be preselected chunk by chunk. Readers register through the
``casehunt_register_readers`` hook, by a format name and file suffixes.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from casehunt.errors import InputError
from casehunt.events import TRUTH_COLUMNS, EventTable
from casehunt.hookspecs import hookimpl

DEFAULT_CHUNK_SIZE = 200_000


class EventReader(abc.ABC):
    """Reads events from one file, in chunks."""

    format: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(f"{self.path}: no such file; check the path in the configuration")
        if not self.path.is_file():
            raise InputError(f"{self.path}: not a file")

    @abc.abstractmethod
    def n_events(self) -> int:
        """Number of events in the file."""

    @abc.abstractmethod
    def available_columns(self) -> list[str]:
        """Column names the file provides."""

    @abc.abstractmethod
    def iter_chunks(
        self,
        columns: Sequence[str] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        start: int = 0,
        stop: int | None = None,
    ) -> Iterator[EventTable]:
        """Events [start, stop) as tables of at most `chunk_size` events."""

    def read(
        self, columns: Sequence[str] | None = None, start: int = 0, stop: int | None = None
    ) -> EventTable:
        """All events [start, stop) in one table."""
        chunks = list(self.iter_chunks(columns, start=start, stop=stop))
        if not chunks:
            return EventTable({c: np.empty(0) for c in columns or []}, source=str(self.path))
        return chunks[0] if len(chunks) == 1 else EventTable.concatenate(chunks)

    def checked_columns(self, columns: Sequence[str] | None) -> list[str]:
        available = self.available_columns()
        if columns is None:
            return available
        missing = [c for c in columns if c not in available]
        if missing:
            raise InputError(
                f"{self.path}: missing column(s) {', '.join(map(repr, missing))}; the file has: "
                f"{', '.join(available)}"
            )
        return list(columns)


class HDF5Reader(EventReader):
    """The casehunt HDF5 layout: one dataset per column, first axis the event.

    Per-jet columns have shape (N, 2), the two leading jets by pT. A padded constituent
    dataset ``jet_const`` of shape (N, 2, M, 3) (pt, eta, phi) is read as a jagged awkward
    array of records. Truth-like datasets (``label``...) are not read as event columns;
    :meth:`read_labels` returns them for evaluation.
    """

    format = "hdf5"
    suffixes = (".h5", ".hdf5")
    description = "casehunt HDF5 layout (one dataset per column, per-jet columns (N, 2))"

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        import h5py

        try:
            with h5py.File(self.path, "r") as f:
                self._shapes = {
                    k: v.shape for k, v in f.items() if isinstance(v, h5py.Dataset) and v.ndim >= 1
                }
        except OSError as exc:
            raise InputError(
                f"{self.path}: not a readable HDF5 file ({exc}); is it truncated or in "
                "another format?"
            ) from None
        if not self._shapes:
            raise InputError(f"{self.path}: the file has no datasets")
        lengths = {shape[0] for shape in self._shapes.values()}
        if len(lengths) != 1:
            detail = ", ".join(f"{k}: {s[0]}" for k, s in self._shapes.items())
            raise InputError(f"{self.path}: datasets differ in length ({detail})")
        self._n = lengths.pop()

    def n_events(self) -> int:
        return self._n

    def available_columns(self) -> list[str]:
        return [k for k in self._shapes if k not in TRUTH_COLUMNS]

    def iter_chunks(
        self,
        columns: Sequence[str] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        start: int = 0,
        stop: int | None = None,
    ) -> Iterator[EventTable]:
        import h5py

        names = self.checked_columns(columns)
        stop = self._n if stop is None else min(stop, self._n)
        try:
            with h5py.File(self.path, "r") as f:
                for lo in range(start, stop, chunk_size):
                    hi = min(lo + chunk_size, stop)
                    cols: dict[str, Any] = {}
                    for name in names:
                        values = f[name][lo:hi]
                        cols[name] = (
                            constituents_from_padded(values) if name == "jet_const" else values
                        )
                    yield EventTable(cols, source=str(self.path))
        except OSError as exc:
            raise InputError(
                f"{self.path}: read error ({exc}); the file may be truncated"
            ) from None

    def read_labels(self, start: int = 0, stop: int | None = None) -> np.ndarray | None:
        """A truth-label dataset if the file has one (for evaluation only)."""
        import h5py

        with h5py.File(self.path, "r") as f:
            for name in TRUTH_COLUMNS:
                if name in f:
                    return np.asarray(f[name][start:stop])
        return None


def constituents_from_padded(padded: np.ndarray) -> Any:
    """(N, 2, M, 3) zero-padded constituents as a jagged awkward array of (pt, eta, phi)."""
    import awkward as ak

    arr = ak.zip({"pt": padded[..., 0], "eta": padded[..., 1], "phi": padded[..., 2]})
    arr = ak.from_regular(arr, axis=None)  # a regular array would flatten under the mask
    return arr[arr.pt > 0]


def padded_from_constituents(constituents: Any, m: int) -> np.ndarray:
    """The inverse of :func:`constituents_from_padded`: (N, 2, m, 3) float32, zero-padded.

    Keeps the first `m` constituents of each jet (they are pT-ordered in the files).
    """
    import awkward as ak

    out = []
    for field in ("pt", "eta", "phi"):
        col = ak.pad_none(constituents[field][:, :, :m], m, axis=2, clip=True)
        out.append(ak.to_numpy(ak.fill_none(col, 0.0)).astype(np.float32))
    return np.stack(out, axis=-1)


def open_events(path: str | Path, format: str | None = None) -> EventReader:
    """A reader for `path`, chosen by `format` or by the file suffix."""
    from casehunt.plugins import get_registry

    return get_registry().reader_for(str(path), format)(path)


@hookimpl
def casehunt_register_readers() -> list[type[EventReader]]:
    return [HDF5Reader]
