"""The template plugin passes the conformance kit and is found through its entry point."""

from __future__ import annotations

import pytest

from casehunt.errors import ConfigError
from casehunt.plugins import get_registry
from casehunt.testing import MethodConformance
from casehunt_template import SidebandGaussian


class TestSidebandGaussian(MethodConformance):
    method_class = SidebandGaussian


def test_registered_through_entry_point() -> None:
    registry = get_registry(refresh=True)
    assert registry.methods["template"] is SidebandGaussian
    info = registry.info[("method", "template")]
    assert info.distribution == "casehunt-template"


def test_a_bad_option_value_names_the_option() -> None:
    with pytest.raises(ConfigError, match=r"template: option 'shrinkage' must be a number >= 0"):
        SidebandGaussian({"shrinkage": -1.0})
