"""Toy samples shared by the VAE-QR tests (made once per session)."""

from __future__ import annotations

import numpy as np
import pytest

from casehunt.events import EventTable
from casehunt.testing import toy_sample


@pytest.fixture(scope="session")
def constituent_sample() -> tuple[EventTable, np.ndarray]:
    # 5% signal: the VAE learns the background bulk; the signal is what it reconstructs worst
    return toy_sample(10_000, 500, seed=21, n_constituents=20)


@pytest.fixture(scope="session")
def constituent_test() -> tuple[EventTable, np.ndarray]:
    return toy_sample(4_000, 1_000, seed=22, n_constituents=20)
