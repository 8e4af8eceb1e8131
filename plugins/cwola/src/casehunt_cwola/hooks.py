"""Registers CWoLa hunting with casehunt (entry point ``cwola`` in the group ``casehunt``)."""

from __future__ import annotations

from casehunt.hookspecs import hookimpl
from casehunt.methods import SelectionMethod
from casehunt_cwola.method import CWoLaHunting


@hookimpl
def casehunt_register_methods() -> list[type[SelectionMethod]]:
    return [CWoLaHunting]
