"""Toy samples shared by the Tag N' Train tests (made once per session)."""

from __future__ import annotations

import numpy as np
import pytest
from tnt_toys import region_sample

from casehunt.events import EventTable


@pytest.fixture(scope="session")
def with_signal() -> tuple[EventTable, np.ndarray]:
    # 40k background events over 2.5-7 TeV leave ~3.2k in the signal region; 200 signal
    # events put ~160 there: S/sqrt(B) ~ 2.8
    return region_sample(40_000, 200, seed=11)


@pytest.fixture(scope="session")
def background_only() -> tuple[EventTable, np.ndarray]:
    return region_sample(40_000, 0, seed=12)
