"""Toy samples and fast options for the Tag N' Train tests.

(A uniquely named helper module: test modules import it, never a `conftest`.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from casehunt.events import EventTable
from casehunt.regions import SignalRegion, window_region
from casehunt.testing import toy_sample

#: The benchmark's working point: 3.3-3.7 TeV with 200 GeV sidebands on each side.
REGION: SignalRegion = window_region(3300.0, 3700.0, 200.0)

#: a tiny autoencoder and one short boosted-tree model: about a second per fit
FAST: dict[str, Any] = {
    "ae_hidden": [8],
    "ae_epochs": 4,
    "ae_batch_size": 256,
    "n_models": 1,
    "classifier_options": {"max_iter": 50},
    "device": "cpu",
    "progress": False,
}


def region_sample(
    n_background: int, n_signal: int, seed: int, **options: Any
) -> tuple[EventTable, np.ndarray]:
    """Toy events in the signal region and sidebands, and their labels (for evaluation only)."""
    events, labels = toy_sample(n_background, n_signal, seed, **options)
    keep = REGION.in_region(np.asarray(events["mjj"]))
    return events.take(keep), labels[keep]
