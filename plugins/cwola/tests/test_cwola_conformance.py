"""CWoLa hunting against the casehunt conformance suite, in each of its modes."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from casehunt.testing import MethodConformance
from casehunt_cwola import CWoLaHunting


class TestCWoLaConformance(MethodConformance):
    method_class = CWoLaHunting
    options: ClassVar[dict[str, Any]] = {"n_models": 1}


class TestCWoLaPerJetConformance(MethodConformance):
    method_class = CWoLaHunting
    options: ClassVar[dict[str, Any]] = {"n_models": 1, "features": "case_jet"}


@pytest.mark.torch
class TestCWoLaMLPConformance(MethodConformance):
    method_class = CWoLaHunting
    options: ClassVar[dict[str, Any]] = {
        "n_models": 1,
        "classifier": "mlp",
        "classifier_options": {"hidden": [16, 16], "max_epochs": 4, "batch_size": 512},
    }
    n_background = 8_000

    @pytest.fixture(autouse=True)
    def _needs_torch(self) -> None:
        pytest.importorskip("torch")
