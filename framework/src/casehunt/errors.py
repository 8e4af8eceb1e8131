"""Errors that reach the user: each names the file, column or key at fault and what to do."""

from __future__ import annotations


class CasehuntError(Exception):
    """Base class: the command line prints the message (no traceback) and exits non-zero."""

    exit_code = 2


class ConfigError(CasehuntError):
    """A configuration file or key is invalid."""


class InputError(CasehuntError):
    """An input file is missing, unreadable, in the wrong format or has bad values."""


class RegionError(CasehuntError):
    """A signal region or sideband cannot be used (for example it is empty)."""


class PluginError(CasehuntError):
    """A plugin failed to load, or a method or reader name is unknown."""


class TruthLabelAccessError(CasehuntError):
    """A selection method tried to read truth labels, which exist only for evaluation."""
