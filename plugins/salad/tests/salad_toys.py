"""Toy data and a mismodelled toy simulation for the SALAD tests.

(A uniquely named helper module: test modules import it, never a `conftest`.)

The toy "simulation" is the toy background with heavier jets (masses x 1.15) and
tau21 shifted up by 0.05, as if made with another generator tune: a classifier tells it
from the toy "data" background easily, so the DCTR reweighting has work to do.
"""

from __future__ import annotations

import numpy as np

from casehunt.derived import derive_columns
from casehunt.events import EventTable
from casehunt.regions import SignalRegion, window_region
from casehunt.testing import toy_sample
from casehunt.toys import make_toy_events

#: the benchmark's signal region with 300 GeV sidebands on each side
REGION: SignalRegion = window_region(3300.0, 3700.0, 300.0)
#: how the toy simulation differs from the toy data background
MISMODELLING = {"background_mass_scale": 1.1, "background_tau21_shift": 0.03}
#: options that keep the tests fast
FAST = {"n_models": 1, "classifier_options": {"max_iter": 100}}


def region_sample(n_background: int, n_signal: int, seed: int) -> tuple[EventTable, np.ndarray]:
    """Toy data in the signal region and sidebands, and their labels (evaluation only)."""
    events, labels = toy_sample(n_background, n_signal, seed)
    keep = REGION.in_region(np.asarray(events["mjj"]))
    return events.take(keep), labels[keep]


def toy_simulation(n_events: int, seed: int, mismodelled: bool = True) -> EventTable:
    """Toy background simulation in the region, with derived columns (no preselection)."""
    options = MISMODELLING if mismodelled else {}
    events, _ = make_toy_events(n_events, 0, seed=seed, **options)
    events = events.with_columns(**derive_columns(events))
    return events.take(REGION.in_region(np.asarray(events["mjj"])))
