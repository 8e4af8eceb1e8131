"""Shared fast settings for the CATHODE tests."""

from __future__ import annotations

from typing import Any

import pytest

#: a tiny flow and one boosted-tree model: about a second per fit on a shared CPU
FAST_OPTIONS: dict[str, Any] = {
    "flow_transforms": 2,
    "flow_hidden": [16, 16],
    "flow_epochs": 3,
    "flow_n_best_epochs": 1,
    "flow_batch_size": 256,
    "n_models": 1,
    "device": "cpu",
}


@pytest.fixture
def fast() -> dict[str, Any]:
    return dict(FAST_OPTIONS)
