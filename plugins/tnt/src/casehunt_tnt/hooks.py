"""Registers Tag N' Train with casehunt (entry point ``tnt`` in the group ``casehunt``)."""

from __future__ import annotations

from casehunt.hookspecs import hookimpl
from casehunt.methods import SelectionMethod
from casehunt_tnt.method import TagNTrain


@hookimpl
def casehunt_register_methods() -> list[type[SelectionMethod]]:
    return [TagNTrain]
