"""Registers SALAD with casehunt (entry point ``salad`` in the group ``casehunt``)."""

from __future__ import annotations

from casehunt.hookspecs import hookimpl
from casehunt.methods import SelectionMethod
from casehunt_salad.method import SALAD


@hookimpl
def casehunt_register_methods() -> list[type[SelectionMethod]]:
    return [SALAD]
