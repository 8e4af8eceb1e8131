"""Exceptions raised by casehunt-stats.

Every failure that a user can act on (a missing file, a fit that does not
converge, a histogram with too few events) raises one of these, with a message
that names the file, the region or the parameter concerned.
"""

from __future__ import annotations


class StatsError(ValueError):
    """A statistics input or result problem the user can act on."""


class FitError(StatsError):
    """A likelihood fit failed to converge (after all retries)."""
