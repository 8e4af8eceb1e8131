"""VAE-QR against the casehunt conformance suite, in each input mode."""

from __future__ import annotations

from typing import Any, ClassVar

from vae_toys import FAST_CONSTITUENTS, FAST_FEATURES

from casehunt.testing import MethodConformance
from casehunt_vae import VAEQR


class TestVAEConstituentsConformance(MethodConformance):
    method_class = VAEQR
    options: ClassVar[dict[str, Any]] = dict(FAST_CONSTITUENTS)
    toy_options: ClassVar[dict[str, Any]] = {"n_constituents": 20}
    n_background = 8_000
    n_signal = 200


class TestVAEFeaturesConformance(MethodConformance):
    method_class = VAEQR
    options: ClassVar[dict[str, Any]] = dict(FAST_FEATURES)
    n_background = 8_000
    n_signal = 200
