"""The nested importance screening of benchmarks/noise_importance.py on a toy problem."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from .conftest import load_script


@pytest.fixture(scope="module")
def screening() -> ModuleType:
    return load_script("noise_importance")


def toy(rng: np.random.Generator, n: int, n_signal: int) -> np.ndarray:
    """Two informative columns (a signal cluster at (1.5, 1.5)), then four noise columns."""
    x = rng.normal(size=(n + n_signal, 6))
    x[n:, :2] = rng.normal(1.5, 0.3, size=(n_signal, 2))
    return x


def test_screening_keeps_the_informative_features_and_drops_noise(
    screening: ModuleType,
) -> None:
    rng = np.random.default_rng(0)
    data = toy(rng, 3000, 300)
    template = toy(rng, 6000, 0)
    test = toy(rng, 0, 500)
    out = screening.screened_iad(
        data,
        template,
        test,
        options={"n_models": 1, "max_iter": 50},
        n_folds=3,
        seed=0,
        repeats=2,
    )
    for rule, per_fold in out["kept"].items():
        assert len(per_fold) == 3
        for cols in per_fold:
            assert {0, 1} <= set(cols), rule  # the signal's columns survive every rule
    assert all(cols == list(range(6)) for cols in out["kept"]["all"])
    noise_kept = sum(len(cols) - 2 for cols in out["kept"]["one_se"])
    assert noise_kept < 12 / 2  # most of the 3 x 4 noise columns go
    # the importances rank the signal's columns first, in every fold
    for mean in out["importance"]:
        assert min(mean[:2]) > max(mean[2:])
    # the screened detector finds the signal: the data's signal events outscore its background
    d, t = out["scores"]["one_se"]
    assert np.median(d[3000:]) > np.quantile(d[:3000], 0.9)
    assert np.median(t) > np.quantile(d[:3000], 0.9)
