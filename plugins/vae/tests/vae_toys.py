"""Toy samples and fast settings for the VAE-QR tests.

(A uniquely named helper module: test modules import it, never a `conftest`.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from casehunt.events import EventTable
from casehunt.testing import toy_sample

#: A small network and few epochs: a fit takes a second or two on a shared CPU.
FAST: dict[str, Any] = {
    "hidden": [32, 16],
    "epochs": 3,
    "batch_size": 512,
    "progress": False,
    "device": "cpu",
}
FAST_CONSTITUENTS: dict[str, Any] = {**FAST, "inputs": "constituents", "n_constituents": 20}
FAST_FEATURES: dict[str, Any] = {**FAST, "inputs": "features", "latent_dim": 2}

#: mjj ranges sampled with equal counts: the toy spectrum falls so steeply that a plain
#: sample has almost nothing above 4 TeV; this one spans 2.5-7 TeV evenly enough for
#: the mjj dependence of the jet masses to show.
WIDE_RANGES = ((2500.0, 3300.0), (3300.0, 4500.0), (4500.0, 7000.0))


def wide_background(n: int, seed: int) -> EventTable:
    """Background-only toy events over 2.5-7 TeV, n / 3 from each range of WIDE_RANGES."""
    parts = [
        toy_sample(n // len(WIDE_RANGES), 0, 1000 * seed + i, mjj_range=r)[0]
        for i, r in enumerate(WIDE_RANGES)
    ]
    return EventTable.concatenate(parts)


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with mid-ranks for ties)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    n1 = int(labels.sum())
    n0 = len(labels) - n1
    return float((ranks[labels == 1].sum() - n1 * (n1 + 1) / 2) / (n0 * n1))


def selected_fractions(
    scores: np.ndarray, mjj: np.ndarray, threshold: float, n_bins: int
) -> np.ndarray:
    """Fraction of events above `threshold` in `n_bins` mjj bins of equal event count."""
    edges = np.quantile(mjj, np.linspace(0.0, 1.0, n_bins + 1))
    which = np.clip(np.searchsorted(edges, mjj, side="right") - 1, 0, n_bins - 1)
    return np.array([np.mean(scores[which == b] > threshold) for b in range(n_bins)])
