"""casehunt.options: method option checks name the method, the key and the value."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from casehunt.errors import ConfigError
from casehunt.options import (
    int_at_least,
    number_at_least,
    open_fraction,
    positive_int,
    positive_number,
)


def test_valid_values_come_back_as_plain_python_types() -> None:
    o = {"n": np.int64(3), "x": np.float32(0.5), "k": 2}
    assert positive_int(o, "n", "m") == 3 and type(positive_int(o, "n", "m")) is int
    assert positive_number(o, "x", "m") == 0.5 and type(positive_number(o, "x", "m")) is float
    assert int_at_least(o, "k", "m", 2) == 2


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "3", None])
def test_positive_int_refuses(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"^mymethod: option 'epochs' must be a positive integer"):
        positive_int({"epochs": value}, "epochs", "mymethod")


@pytest.mark.parametrize("value", [0, -0.1, float("nan"), False, "1e-3", None])
def test_positive_number_refuses(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"'learning_rate' must be a positive number"):
        positive_number({"learning_rate": value}, "learning_rate", "mymethod")


def test_int_at_least_names_the_bound() -> None:
    with pytest.raises(ConfigError, match=r"'n_constituents' must be an integer >= 2, got 1"):
        int_at_least({"n_constituents": 1}, "n_constituents", "vrnn", 2)


def test_number_at_least_and_open_fraction() -> None:
    assert number_at_least({"w": 0}, "w", "m", 0) == 0.0
    assert open_fraction({"f": 0.2}, "f", "m") == 0.2
    with pytest.raises(ConfigError, match=r"'beta' must be a number >= 0, got -0.5"):
        number_at_least({"beta": -0.5}, "beta", "vae_qr", 0)
    for bad in (0, 1, 1.5, float("nan"), True):
        with pytest.raises(ConfigError, match=r"'validation_fraction' must be between 0 and 1"):
            open_fraction({"validation_fraction": bad}, "validation_fraction", "m")
