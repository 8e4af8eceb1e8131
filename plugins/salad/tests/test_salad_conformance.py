"""SALAD against the casehunt conformance suite, with a mismodelled toy simulation."""

from __future__ import annotations

from typing import Any, ClassVar

from salad_toys import FAST, toy_simulation

from casehunt.testing import MethodConformance
from casehunt_salad import SALAD


class TestSALADConformance(MethodConformance):
    method_class = SALAD
    options: ClassVar[dict[str, Any]] = {**FAST, "simulation": toy_simulation(40_000, seed=31)}
