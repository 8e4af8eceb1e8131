"""The quantile calibration: flat efficiency in mjj, a strictly increasing score."""

from __future__ import annotations

import numpy as np
import pytest
from vae_toys import selected_fractions

from casehunt.toys import SQRT_S
from casehunt_vae.quantiles import DIRECT_LP_EVENTS, QuantileCalibration, _full_lp, pinball_fit

LEVELS = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)


def scores_growing_with_mjj(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A falling mjj spectrum and a skewed score whose scale and offset grow with mjj."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(2500.0, 7000.0, n) / SQRT_S
    mjj = SQRT_S * x
    score = rng.gamma(2.0, 1.0, n) * (mjj / 3000.0) ** 1.5 + 0.2 * (mjj / 3000.0)
    return score, mjj


def test_pinball_fit_recovers_conditional_quantiles() -> None:
    rng = np.random.default_rng(0)
    t = rng.uniform(-1, 1, 20_000)
    y = 2.0 + 0.5 * t + rng.exponential(1.0, t.size)
    x = np.column_stack([np.ones_like(t), t])
    for tau in (0.5, 0.9):
        b = pinball_fit(x, y, tau)
        # exponential noise: the tau-quantile is -ln(1 - tau) above the line
        np.testing.assert_allclose(b, [2.0 - np.log(1 - tau), 0.5], atol=0.05)
        assert np.mean(y <= x @ b) == pytest.approx(tau, abs=1e-3)


def test_reduced_program_gives_the_full_optimum() -> None:
    # above DIRECT_LP_EVENTS, events far from the curve are lumped (Portnoy-Koenker)
    rng = np.random.default_rng(1)
    n = 3 * DIRECT_LP_EVENTS
    t = rng.uniform(-1, 1, n)
    y = rng.gamma(2.0, 1.0, n) * (1 + 0.5 * t) + t**2
    x = np.polynomial.legendre.legvander(t, 3)
    for tau in (0.3, 0.9, 0.999):
        np.testing.assert_allclose(pinball_fit(x, y, tau), _full_lp(x, y, tau), atol=1e-9)


def test_calibrated_score_selects_the_same_fraction_at_every_mjj() -> None:
    score, mjj = scores_growing_with_mjj(20_000, seed=1)
    calibration = QuantileCalibration.fit(score, mjj, LEVELS, degree=3)
    test_score, test_mjj = scores_growing_with_mjj(60_000, seed=2)
    level = calibration.transform(test_score, test_mjj)
    for eps in (0.3, 0.1, 0.02):
        calibrated = selected_fractions(level, test_mjj, 1 - eps, n_bins=4)
        # 15k events per bin: 4 standard deviations of the count and 10% for the fit
        tolerance = 4 * np.sqrt(eps * (1 - eps) / 15_000) + 0.1 * eps
        assert np.all(np.abs(calibrated - eps) < tolerance), (eps, calibrated)
        # a plain cut at the same overall efficiency is far from flat here
        plain = selected_fractions(test_score, test_mjj, np.quantile(test_score, 1 - eps), 4)
        assert np.max(np.abs(plain - eps)) > 3 * tolerance, (eps, plain)


def test_level_is_strictly_increasing_and_below_one_in_the_far_tail() -> None:
    score, mjj = scores_growing_with_mjj(5_000, seed=3)
    calibration = QuantileCalibration.fit(score, mjj, LEVELS, degree=2)
    for m in (2600.0, 4000.0, 6500.0):
        top = float(calibration.thresholds(np.array([m]), calibration.levels[-1])[0])
        s = np.geomspace(0.05 * top, 1e6 * top, 4000)
        level = calibration.transform(s, np.full(s.size, m))
        assert np.all(np.diff(level) > 0), "the level must keep the order of the raw scores"
        assert level[0] > 0 and level[-1] < 1
        # the curves are the levels they stand for
        for tau in (0.5, 0.9, 0.99):
            threshold = calibration.thresholds(np.array([m]), tau)
            np.testing.assert_allclose(calibration.transform(threshold, np.array([m])), tau)


def test_outside_the_fitted_mjj_range_the_curves_stay_at_their_edges() -> None:
    score, mjj = scores_growing_with_mjj(5_000, seed=4)
    calibration = QuantileCalibration.fit(score, mjj, LEVELS, degree=3)
    edges = np.array([mjj.min(), mjj.max()])
    beyond = np.array([0.5 * mjj.min(), 2.0 * mjj.max()])
    np.testing.assert_allclose(calibration.curves(beyond), calibration.curves(edges))


def test_levels_without_enough_events_are_left_out() -> None:
    score, mjj = scores_growing_with_mjj(500, seed=5)
    calibration = QuantileCalibration.fit(score, mjj, LEVELS, degree=1)
    # 10 events above a level at least: 0.98 is the highest usable with 500
    assert calibration.levels.max() == 0.98
    assert calibration.levels.min() == 0.3
    with pytest.raises(ValueError, match="fewer than two"):
        QuantileCalibration.fit(score[:15], mjj[:15], LEVELS, degree=1)
    with pytest.raises(ValueError, match="positive"):
        QuantileCalibration.fit(score, -mjj, LEVELS, degree=1)
