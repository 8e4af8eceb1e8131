"""Data-level variants: noise features and jet masses correlated with mjj."""

from __future__ import annotations

import numpy as np
import pytest

from casehunt.errors import ConfigError
from casehunt.features import LHCO, features_with_noise
from casehunt.testing import toy_sample
from casehunt.variants import (
    add_noise_features,
    apply_variant,
    correlate,
    correlate_masses,
    noise_values,
    variant_noise,
)


@pytest.fixture(scope="module")
def events():
    return toy_sample(5_000, 200, seed=3)[0]


def test_noise_columns_are_standard_normal_and_uninformative(events) -> None:
    out = add_noise_features(events, 4, seed=0)
    assert [c for c in out.columns if c.startswith("noise_")] == [f"noise_{j}" for j in range(4)]
    noise = out.matrix([f"noise_{j}" for j in range(4)])
    np.testing.assert_allclose(noise.mean(axis=0), 0.0, atol=0.06)
    np.testing.assert_allclose(noise.std(axis=0), 1.0, atol=0.05)
    corr = np.corrcoef(np.hstack([out.matrix(LHCO.columns), noise]), rowvar=False)
    np.testing.assert_allclose(corr[:4, 4:], 0.0, atol=0.06)  # with the features
    np.testing.assert_allclose(corr[4:, 4:][np.triu_indices(4, 1)], 0.0, atol=0.06)
    # the other columns are untouched
    for c in events.columns:
        np.testing.assert_array_equal(out[c], events[c])


def test_noise_is_a_function_of_the_event(events) -> None:
    full = add_noise_features(events, 3, seed=1)
    order = np.random.default_rng(0).permutation(events.n_events)[:1000]
    # any subset, in any order (a split, a fold), gets the same noise for the same event
    sub = add_noise_features(events.take(order), 3, seed=1)
    for j in range(3):
        np.testing.assert_array_equal(sub[f"noise_{j}"], full[f"noise_{j}"][order])
    other = add_noise_features(events, 3, seed=2)
    assert not np.allclose(other["noise_0"], full["noise_0"])
    # adding noise twice does not feed the first noise into the second
    again = add_noise_features(full, 3, seed=1)
    np.testing.assert_array_equal(again["noise_2"], full["noise_2"])


def test_noise_values_match_the_plugin_convention() -> None:
    values = np.random.default_rng(0).normal(size=(100, 3))
    a = noise_values(values, 2, seed=5)
    assert a.shape == (100, 2)
    np.testing.assert_array_equal(noise_values(values[::-1], 2, seed=5), a[::-1])


def test_correlate_masses_shifts_masses_only(events) -> None:
    out = correlate_masses(events, 0.1)
    mjj = np.asarray(events["mjj"], dtype=np.float64)
    np.testing.assert_allclose(out["mj2"], events["mj2"] + 0.1 * mjj, rtol=1e-5)
    np.testing.assert_allclose(out["mj1"], events["mj1"] + 0.1 * mjj, rtol=1e-5)
    np.testing.assert_allclose(out["jet_msd"], events["jet_msd"] + 0.1 * mjj[:, None], rtol=1e-5)
    np.testing.assert_array_equal(out["delta_mj"], events["delta_mj"])
    np.testing.assert_array_equal(out["tau21_j1"], events["tau21_j1"])
    np.testing.assert_array_equal(out["mjj"], events["mjj"])
    # the correlated masses follow mjj
    assert np.corrcoef(out["mj2"], mjj)[0, 1] > 0.5 > abs(np.corrcoef(events["mj2"], mjj)[0, 1])


def test_correlate_matrix_helper() -> None:
    x = np.array([[50.0, 20.0, 0.5, 0.4]])
    out = correlate(x, ("mj2", "delta_mj", "tau21_j2", "tau21_j1"), np.array([3000.0]), 0.1)
    np.testing.assert_allclose(out, [[350.0, 20.0, 0.5, 0.4]])


def test_named_variants_and_feature_sets(events) -> None:
    assert apply_variant(events, "baseline") is events
    assert variant_noise("noise10") == 10 and variant_noise("correlated") == 0
    assert "noise_9" in apply_variant(events, "noise10").columns
    np.testing.assert_array_equal(
        apply_variant(events, "correlated")["mj2"], correlate_masses(events)["mj2"]
    )
    with pytest.raises(ConfigError, match="unknown variant"):
        apply_variant(events, "noisy")
    fs = features_with_noise(LHCO, 2)
    assert fs.columns == (*LHCO.columns, "noise_0", "noise_1")
    assert features_with_noise("lhco", 0) == LHCO
    x = fs.event_matrix(add_noise_features(events, 2))
    assert x.shape == (events.n_events, 6)
    with pytest.raises(ConfigError):
        features_with_noise("case_jet", 2)
    with pytest.raises(ConfigError):
        add_noise_features(events, -1)
