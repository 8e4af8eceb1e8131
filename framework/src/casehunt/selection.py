"""Selection at a fixed efficiency with the threshold set in the sidebands.

CASE (arXiv:2412.03747, Sec. 6): the score threshold is the (1 - eps) quantile of the
scores of sideband events, the high sideband weighted to the low one's event count, and
the selected events at any value of the resonant feature (mjj by default) go to the fit. Setting the threshold away from the signal
region keeps a signal in it from moving the cut.
"""

from __future__ import annotations

import numpy as np

from casehunt.errors import RegionError
from casehunt.regions import SignalRegion


def weighted_quantile(values: np.ndarray, q: float, weights: np.ndarray) -> float:
    """The q-quantile of weighted values (inverse of the weighted empirical CDF)."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    index = min(int(np.searchsorted(cdf, q, side="left")), len(v) - 1)
    return float(v[index])


def sideband_threshold(
    scores: np.ndarray, mjj: np.ndarray, region: SignalRegion, efficiency: float
) -> float:
    """The score above which a fraction `efficiency` of (reweighted) sideband events lie."""
    if not 0.0 < efficiency < 1.0:
        raise ValueError(f"selection efficiency must be in (0, 1), got {efficiency}")
    low, high = region.in_low_sideband(mjj), region.in_high_sideband(mjj)
    n_low, n_high = int(low.sum()), int(high.sum())
    if n_low + n_high == 0:
        raise RegionError(
            f"region {region.name}: no events in the sidebands "
            f"[{region.sb_low:g}, {region.low:g}) and [{region.high:g}, {region.sb_high:g}); "
            "widen the sidebands or loosen the preselection"
        )
    weights = np.zeros(len(scores))
    weights[low] = 1.0
    weights[high] = n_low / n_high if n_low and n_high else 1.0
    sb = low | high
    return weighted_quantile(scores[sb], 1.0 - efficiency, weights[sb])


def select(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Events strictly above the threshold."""
    return scores > threshold
