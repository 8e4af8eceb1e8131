"""Registers VAE-QR with casehunt (entry point ``vae`` in the group ``casehunt``)."""

from __future__ import annotations

from casehunt.hookspecs import hookimpl
from casehunt.methods import SelectionMethod
from casehunt_vae.method import VAEQR


@hookimpl
def casehunt_register_methods() -> list[type[SelectionMethod]]:
    return [VAEQR]
