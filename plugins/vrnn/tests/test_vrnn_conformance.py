"""The VRNN tagger passes the casehunt conformance kit and is found through its entry point."""

from __future__ import annotations

from typing import Any, ClassVar

from vrnn_toys import FAST

from casehunt.plugins import get_registry
from casehunt.testing import MethodConformance
from casehunt_vrnn import VRNNTagger


class TestVRNNConformance(MethodConformance):
    method_class = VRNNTagger
    options: ClassVar[dict[str, Any]] = dict(FAST)
    toy_options: ClassVar[dict[str, Any]] = {"n_constituents": 12}
    n_background = 6_000
    n_signal = 200


def test_registered_through_entry_point() -> None:
    registry = get_registry(refresh=True)
    assert registry.methods["vrnn"] is VRNNTagger
    info = registry.info[("method", "vrnn")]
    assert info.distribution == "casehunt-vrnn"
