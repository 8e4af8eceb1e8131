"""Toy samples shared by the CWoLa tests (made once per session: they are the slow part)."""

from __future__ import annotations

import numpy as np
import pytest
from cwola_toys import region_sample

from casehunt.events import EventTable


@pytest.fixture(scope="session")
def with_signal() -> tuple[EventTable, np.ndarray]:
    # 60k background events over 2.5-7 TeV leave ~4.8k in the signal region; 300 signal
    # events put ~240 there: S/sqrt(B) ~ 3.5
    return region_sample(60_000, 300, seed=11)


@pytest.fixture(scope="session")
def background_only() -> tuple[EventTable, np.ndarray]:
    return region_sample(60_000, 0, seed=12)
