"""k-folding: every event is scored by models that never trained on it (CASE Sec. 5)."""

from __future__ import annotations

import numpy as np


def assign_folds(n_events: int, n_folds: int, seed: int) -> np.ndarray:
    """A balanced, seeded assignment of each event to one of `n_folds` folds."""
    if n_folds < 2:
        raise ValueError(f"need at least 2 folds, got {n_folds}")
    rng = np.random.default_rng(seed)
    folds = np.empty(n_events, dtype=np.int64)
    folds[rng.permutation(n_events)] = np.arange(n_events) % n_folds
    return folds
