"""Tag N' Train against the casehunt conformance suite, with feature and constituent inputs."""

from __future__ import annotations

from typing import Any, ClassVar

from tnt_toys import FAST

from casehunt.testing import MethodConformance
from casehunt_tnt import TagNTrain


class TestTNTConformance(MethodConformance):
    method_class = TagNTrain
    options: ClassVar[dict[str, Any]] = dict(FAST)


class TestTNTConstituentConformance(MethodConformance):
    method_class = TagNTrain
    options: ClassVar[dict[str, Any]] = {
        **FAST,
        "inputs": "constituents",
        "n_constituents": 8,
        "shared_classifier": False,
    }
    toy_options: ClassVar[dict[str, Any]] = {"n_constituents": 8}
    n_background = 10_000
    n_signal = 200
