"""CATHODE passes the casehunt conformance kit and is found through its entry point."""

from __future__ import annotations

from typing import Any, ClassVar

from casehunt.plugins import get_registry
from casehunt.testing import MethodConformance
from casehunt_cathode import CATHODE


class TestCATHODE(MethodConformance):
    method_class = CATHODE
    # the tiny configuration of conftest.FAST_OPTIONS (class attributes cannot use fixtures)
    options: ClassVar[dict[str, Any]] = {
        "flow_transforms": 2,
        "flow_hidden": [16, 16],
        "flow_epochs": 3,
        "flow_n_best_epochs": 1,
        "flow_batch_size": 256,
        "n_models": 1,
        "device": "cpu",
    }
    n_background = 12_000


def test_registered_through_entry_point() -> None:
    registry = get_registry(refresh=True)
    assert registry.methods["cathode"] is CATHODE
    info = registry.info[("method", "cathode")]
    assert info.distribution == "casehunt-cathode"
