"""Toy samples for the CWoLa tests: the benchmark's window on the parametric toy events.

(A uniquely named helper module: test modules import it, never a `conftest`.)
"""

from __future__ import annotations

import numpy as np

from casehunt.events import EventTable
from casehunt.regions import SignalRegion, window_region
from casehunt.testing import toy_sample

#: The benchmark's working point: 3.3-3.7 TeV with 200 GeV sidebands on each side.
REGION: SignalRegion = window_region(3300.0, 3700.0, 200.0)


def region_sample(n_background: int, n_signal: int, seed: int) -> tuple[EventTable, np.ndarray]:
    """Toy events in the signal region and sidebands, and their labels (for evaluation only)."""
    events, labels = toy_sample(n_background, n_signal, seed)
    keep = REGION.in_region(np.asarray(events["mjj"]))
    return events.take(keep), labels[keep]
