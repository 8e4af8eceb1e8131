"""The plugin's hooks: how casehunt finds the method (entry point `casehunt`)."""

from __future__ import annotations

from casehunt.hookspecs import hookimpl
from casehunt.methods import SelectionMethod
from casehunt_template.method import SidebandGaussian


@hookimpl
def casehunt_register_methods() -> list[type[SelectionMethod]]:
    return [SidebandGaussian]
