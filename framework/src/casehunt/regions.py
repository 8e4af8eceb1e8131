"""Signal regions and their sidebands in the resonant feature (mjj by default).

CASE (arXiv:2412.03747, Sec. 4) used two staggered sets of mjj bins, each about 20%
wide; every inner bin is a signal region whose neighbouring bins are its sidebands.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from casehunt.errors import ConfigError

#: The two staggered sets of bin edges of the CASE search [GeV] (REFERENCES.md).
CASE_EDGES: dict[str, tuple[float, ...]] = {
    "A": (1450, 1650, 2017, 2465, 3013, 3682, 4500, 5500, 8000),
    "B": (1492, 1824, 2230, 2725, 3331, 4071, 4975, 6081, 8000),
}


@dataclass(frozen=True)
class SignalRegion:
    """A signal-region window [low, high) with sidebands [sb_low, low) and [high, sb_high)."""

    low: float
    high: float
    sb_low: float
    sb_high: float
    name: str = ""

    def __post_init__(self) -> None:
        if not (self.sb_low <= self.low < self.high <= self.sb_high):
            raise ConfigError(
                f"region {self.name or ''}: need sb_low <= low < high <= sb_high, got "
                f"{self.sb_low}, {self.low}, {self.high}, {self.sb_high}"
            )
        if not self.name:
            object.__setattr__(self, "name", f"sr_{self.low:.0f}_{self.high:.0f}")

    @property
    def center(self) -> float:
        return 0.5 * (self.low + self.high)

    def in_signal_region(self, m: np.ndarray) -> np.ndarray:
        return (m >= self.low) & (m < self.high)

    def in_low_sideband(self, m: np.ndarray) -> np.ndarray:
        return (m >= self.sb_low) & (m < self.low)

    def in_high_sideband(self, m: np.ndarray) -> np.ndarray:
        return (m >= self.high) & (m < self.sb_high)

    def in_sideband(self, m: np.ndarray) -> np.ndarray:
        return self.in_low_sideband(m) | self.in_high_sideband(m)

    def in_region(self, m: np.ndarray) -> np.ndarray:
        """Signal region or sidebands: the events a per-region method trains on."""
        return (m >= self.sb_low) & (m < self.sb_high)

    def to_dict(self) -> dict[str, float | str]:
        return {
            "name": self.name,
            "low": self.low,
            "high": self.high,
            "sb_low": self.sb_low,
            "sb_high": self.sb_high,
        }


def window_region(low: float, high: float, sideband_width: float) -> SignalRegion:
    """One window with sidebands of a fixed width on each side."""
    if sideband_width <= 0:
        raise ConfigError(f"regions.sideband_width must be positive, got {sideband_width}")
    return SignalRegion(low, high, low - sideband_width, high + sideband_width)


def regions_from_edges(edges: Sequence[float]) -> list[SignalRegion]:
    """Every inner bin of a set of edges, with the neighbouring bins as its sidebands."""
    e = [float(x) for x in edges]
    if len(e) < 4 or any(b <= a for a, b in itertools.pairwise(e)):
        raise ConfigError(f"region edges must be at least 4 increasing values, got {list(edges)}")
    return [SignalRegion(e[i], e[i + 1], e[i - 1], e[i + 2]) for i in range(1, len(e) - 2)]


def staggered_edges(
    start: float, stop: float, width_fraction: float = 0.2, n_sets: int = 2
) -> list[list[float]]:
    """Sets of geometric bin edges of about `width_fraction` width, offset from each other.

    Each set covers [start, stop]; set k starts at start * (1 + width_fraction)^(k / n_sets),
    so the signal regions of the sets overlap like CASE's sets A and B.
    """
    if not (0 < width_fraction < 1) or n_sets < 1 or not (0 < start < stop):
        raise ConfigError(
            "regions.sliding needs 0 < start < stop, 0 < width_fraction < 1 and n_sets >= 1"
        )
    ratio = 1.0 + width_fraction
    sets = []
    for k in range(n_sets):
        lo = start * ratio ** (k / n_sets)
        n = int(np.floor(np.log(stop / lo) / np.log(ratio)))
        edges = [round(lo * ratio**i) for i in range(n + 1)]
        if edges[-1] < stop:
            edges.append(round(stop))
        sets.append([float(x) for x in edges])
    return sets
