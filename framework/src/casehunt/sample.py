"""Reading, deriving and preselecting events into a :class:`Sample`.

A sample is what the methods see (an :class:`~casehunt.events.EventTable`) plus what they
must not see, kept beside it: event ids, which events were injected, and truth labels
for evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
) -> Sample:
    """Read a file chunk by chunk, derive columns, check values, and keep passing events."""
    parts = []
    label_file = reader.read_labels(start, stop) if hasattr(reader, "read_labels") else None
    offset = start
    for chunk in reader.iter_chunks(None, chunk_size=chunk_size, start=start, stop=stop):
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
