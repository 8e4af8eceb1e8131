"""Errors of the event generator, in the framework's error hierarchy (message, non-zero exit)."""

from __future__ import annotations

from casehunt.errors import CasehuntError, ConfigError


class MissingGeneratorError(CasehuntError):
    """pythia8mc or fastjet is not installed: the generator is an optional extra."""


class GenerationError(CasehuntError):
    """Pythia failed to initialise or to produce events."""


class OutputMismatchError(CasehuntError):
    """An existing output file was written with other settings, so it cannot be resumed."""


__all__ = ["ConfigError", "GenerationError", "MissingGeneratorError", "OutputMismatchError"]
