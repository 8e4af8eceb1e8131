"""Registers QUAK with casehunt (entry point ``quak`` in the group ``casehunt``)."""

from __future__ import annotations

from casehunt.hookspecs import hookimpl
from casehunt.methods import SelectionMethod
from casehunt_quak.method import QUAK


@hookimpl
def casehunt_register_methods() -> list[type[SelectionMethod]]:
    return [QUAK]
