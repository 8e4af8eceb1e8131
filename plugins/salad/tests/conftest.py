"""Toy samples shared by the SALAD tests (made once per session: they are the slow part)."""

from __future__ import annotations

import numpy as np
import pytest
from salad_toys import region_sample, toy_simulation

from casehunt.events import EventTable


@pytest.fixture(scope="session")
def with_signal() -> tuple[EventTable, np.ndarray]:
    # 60k background events over 2.5-7 TeV leave ~4.8k in the signal region; 300 signal
    # events put ~240 there: S/sqrt(B) ~ 3.5
    return region_sample(60_000, 300, seed=21)


@pytest.fixture(scope="session")
def background_only() -> tuple[EventTable, np.ndarray]:
    return region_sample(60_000, 0, seed=22)


@pytest.fixture(scope="session")
def simulation() -> EventTable:
    # twice the data: the simulation's statistics enter the signal-region training
    return toy_simulation(120_000, seed=23)
