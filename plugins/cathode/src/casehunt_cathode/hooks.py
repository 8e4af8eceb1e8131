"""Registers CATHODE with casehunt (entry point ``cathode`` in the group ``casehunt``)."""

from __future__ import annotations

from casehunt.hookspecs import hookimpl
from casehunt.methods import SelectionMethod
from casehunt_cathode.method import CATHODE


@hookimpl
def casehunt_register_methods() -> list[type[SelectionMethod]]:
    return [CATHODE]
