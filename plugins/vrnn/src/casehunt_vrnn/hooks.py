"""Registers the VRNN jet tagger with casehunt (entry point ``vrnn`` in the group ``casehunt``)."""

from __future__ import annotations

from casehunt.hookspecs import hookimpl
from casehunt.methods import SelectionMethod
from casehunt_vrnn.method import VRNNTagger


@hookimpl
def casehunt_register_methods() -> list[type[SelectionMethod]]:
    return [VRNNTagger]
