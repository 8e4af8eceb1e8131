"""The closure test of the reweighting: data against (reweighted) simulation, bin by bin."""

from __future__ import annotations

import numpy as np


def closure_chi2(
    data: np.ndarray, sim: np.ndarray, weights: np.ndarray | None = None, n_bins: int = 20
) -> float:
    """chi2/ndf of data against (weighted) simulation normalised to it, in data-quantile bins.

    The simulation's variance is the sum of its squared (scaled) weights; ndf = bins - 1.
    Near 1 when the reweighted simulation describes the data (SALAD, arXiv:2001.05001,
    Sec. 3: the reweighting must close in the sidebands before it is trusted inside).
    """
    w = np.ones(len(sim)) if weights is None else np.asarray(weights, dtype=float)
    edges = np.unique(np.quantile(data, np.linspace(0, 1, n_bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    d, _ = np.histogram(data, edges)
    s, _ = np.histogram(sim, edges, weights=w)
    s2, _ = np.histogram(sim, edges, weights=w**2)
    k = d.sum() / s.sum()
    chi2 = np.sum((d - k * s) ** 2 / (d + k**2 * s2))
    return float(chi2 / (len(d) - 1))
