"""The built-in plugin that adds the derived columns of :mod:`casehunt.derived`."""

from __future__ import annotations

from typing import Any

from casehunt.derived import derive_columns
from casehunt.events import EventTable
from casehunt.hookspecs import hookimpl


@hookimpl
def casehunt_derive_columns(events: EventTable, config: dict[str, Any]) -> dict[str, Any]:
    return derive_columns(events)
