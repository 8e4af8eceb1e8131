"""Reading, deriving and preselecting events into a :class:`Sample`.

A sample is what the methods see (an :class:`~casehunt.events.EventTable`) plus what they
must not see, kept beside it: event ids, which events were injected, and truth labels
for evaluation.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from casehunt.errors import InputError
from casehunt.events import EventTable, check_finite
from casehunt.preselection import Preselection
from casehunt.readers import EventReader


@dataclass
class Sample:
    """Preselected events, with ids, injection flags and labels kept apart from them."""

    events: EventTable
    event_id: np.ndarray
    injected: np.ndarray
    labels: np.ndarray | None = None

    @property
    def n_events(self) -> int:
        return self.events.n_events

    def take(self, index: np.ndarray) -> Sample:
        labels = None if self.labels is None else self.labels[index]
        return Sample(self.events.take(index), self.event_id[index], self.injected[index], labels)

    @staticmethod
    def concatenate(samples: Sequence[Sample]) -> Sample:
        labels = None
        if any(s.labels is not None for s in samples):
            labels = np.concatenate(
                [
                    s.labels if s.labels is not None else np.zeros(s.n_events, np.int8)
                    for s in samples
                ]
            )
        return Sample(
            EventTable.concatenate([s.events for s in samples]),
            np.concatenate([s.event_id for s in samples]),
            np.concatenate([s.injected for s in samples]),
            labels,
        )


def derive(events: EventTable, pm: Any, config: dict[str, Any]) -> EventTable:
    """Add every plugin's derived columns; two plugins deriving one column is an error."""
    new: dict[str, Any] = {}
    for impl in reversed(pm.hook.casehunt_derive_columns.get_hookimpls()):
        cols = impl.function(events=events, config=config) or {}
        clash = set(cols) & set(new)
        if clash:
            raise InputError(
                f"plugin {impl.plugin_name!r} derives column(s) {sorted(clash)} that another "
                "plugin derives too"
            )
        new.update(cols)
    return events.with_columns(**new)


def load_preselected(
    reader: EventReader,
    preselection: Preselection,
    pm: Any,
    config: dict[str, Any],
    *,
    start: int = 0,
    stop: int | None = None,
    chunk_size: int = 200_000,
    injected: bool = False,
    label_value: int | None = None,
    columns: Sequence[str] | None = None,
) -> Sample:
    """Read a file chunk by chunk, derive columns, check values, and keep passing events.

    ``columns``: the stored columns to read (default: all).
    """
    parts = []
    label_file = reader.read_labels(start, stop) if hasattr(reader, "read_labels") else None
    offset = start
    for chunk in reader.iter_chunks(columns, chunk_size=chunk_size, start=start, stop=stop):
        chunk = derive(chunk, pm, config)
        check_finite(chunk)
        keep = preselection.apply(chunk)
        ids = np.arange(offset, offset + chunk.n_events, dtype=np.int64)
        labels = None
        if label_value is not None:
            labels = np.full(chunk.n_events, label_value, dtype=np.int8)
        elif label_file is not None:
            labels = np.asarray(
                label_file[offset - start : offset - start + chunk.n_events], np.int8
            )
        parts.append(
            Sample(
                chunk.take(keep),
                ids[keep],
                np.full(int(keep.sum()), injected),
                None if labels is None else labels[keep],
            )
        )
        offset += chunk.n_events
    if not parts:
        raise InputError(f"{reader.path}: no events in the range [{start}, {stop})")
    return parts[0] if len(parts) == 1 else Sample.concatenate(parts)


_SIMULATED: dict[tuple[Any, ...], EventTable] = {}


def read_simulated(
    path: str | os.PathLike[str],
    *,
    preselect: bool = True,
    skip_columns: Collection[str] = (),
) -> EventTable:
    """A simulated sample a method uses besides the data, read once per process.

    For SALAD's background simulation and QUAK's signal priors: the file is read as the
    core reads data (every plugin's derived columns, finite values checked) and, unless
    ``preselect`` is false, preselected with every plugin's cuts at their default
    settings (CASE's), which the data passed too. It is simulation, not data, so reading
    it is no label leak. Every fold and region uses the same file, so the table is
    cached by path, modification time and size (:func:`clear_simulated_cache`).
    ``skip_columns``: stored columns not read (e.g. ``jet_const`` when no feature
    needs the constituents).
    """
    from casehunt.plugins import get_registry
    from casehunt.readers import open_events

    p = Path(path)
    stat = p.stat()
    skip = frozenset(skip_columns)
    key = (str(p.resolve()), stat.st_mtime_ns, stat.st_size, preselect, skip)
    if key not in _SIMULATED:
        pm = get_registry().pm
        cuts = [c for cs in pm.hook.casehunt_preselection_cuts(config={}) for c in cs or []]
        reader = open_events(p)
        columns = [c for c in reader.available_columns() if c not in skip] if skip else None
        presel = Preselection(cuts if preselect else [])
        _SIMULATED[key] = load_preselected(reader, presel, pm, {}, columns=columns).events
    return _SIMULATED[key]


def clear_simulated_cache() -> None:
    """Forget every simulated sample read in this process."""
    _SIMULATED.clear()
