"""Checks of method options with errors that name the method, the key and the value.

A method's ``default_options`` say which keys exist (the core refuses others); these say
what a value must be. Each returns the value as the plain Python type, or raises
ConfigError::

    self.epochs = positive_int(self.options, "epochs", "cathode")
    # ConfigError: cathode: option 'epochs' must be a positive integer, got 0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from casehunt.errors import ConfigError


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def int_at_least(options: Mapping[str, Any], key: str, method: str, low: int) -> int:
    """An integer >= `low`."""
    v = options[key]
    if not _is_int(v) or v < low:
        raise ConfigError(f"{method}: option {key!r} must be an integer >= {low}, got {v!r}")
    return int(v)


def positive_int(options: Mapping[str, Any], key: str, method: str) -> int:
    """An integer >= 1."""
    v = options[key]
    if not _is_int(v) or v < 1:
        raise ConfigError(f"{method}: option {key!r} must be a positive integer, got {v!r}")
    return int(v)


def positive_number(options: Mapping[str, Any], key: str, method: str) -> float:
    """A finite or infinite number > 0 (not a bool, not NaN)."""
    v = options[key]
    if not _is_number(v) or not v > 0:
        raise ConfigError(f"{method}: option {key!r} must be a positive number, got {v!r}")
    return float(v)


def number_at_least(options: Mapping[str, Any], key: str, method: str, low: float) -> float:
    """A number >= `low` (not a bool, not NaN)."""
    v = options[key]
    if not _is_number(v) or not v >= low:
        raise ConfigError(f"{method}: option {key!r} must be a number >= {low:g}, got {v!r}")
    return float(v)


def open_fraction(options: Mapping[str, Any], key: str, method: str) -> float:
    """A number strictly between 0 and 1 (a validation split, a quantile level)."""
    v = options[key]
    if not _is_number(v) or not 0 < v < 1:
        raise ConfigError(f"{method}: option {key!r} must be between 0 and 1, got {v!r}")
    return float(v)
