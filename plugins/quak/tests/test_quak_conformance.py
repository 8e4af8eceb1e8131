"""QUAK passes the casehunt conformance kit and is found through its entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from quak_toys import FAST_OPTIONS

from casehunt.plugins import get_registry
from casehunt.testing import MethodConformance
from casehunt_quak import QUAK


class TestQUAK(MethodConformance):
    method_class = QUAK
    # the kit reads `options` as a class attribute; the prior file is made by a fixture,
    # so the fixture below completes them before every test of the class
    options: ClassVar[dict[str, Any]] = dict(FAST_OPTIONS)
    n_background = 12_000

    @pytest.fixture(autouse=True)
    def _with_prior(self, request: pytest.FixtureRequest, prior_files: dict[str, Path]) -> None:
        request.cls.options = {**FAST_OPTIONS, "priors": [str(prior_files["matching"])]}


def test_registered_through_entry_point() -> None:
    registry = get_registry(refresh=True)
    assert registry.methods["quak"] is QUAK
    info = registry.info[("method", "quak")]
    assert info.distribution == "casehunt-quak"
