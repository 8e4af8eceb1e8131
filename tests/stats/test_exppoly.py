"""The exponential-polynomial background: fit, F-test and scan on a jet-mass-like spectrum."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from casehunt_stats import StatsConfig, exppoly_function, fit_background, mass_limit
from casehunt_stats.ftest import fit_with_ftest
from casehunt_stats.rerun import analyze_region
from casehunt_stats.signal_shape import SignalModel
from casehunt_stats.significance import global_significance
from casehunt_stats.toys import sample_exppoly

RANGE = (100.0, 1000.0)  # a jet-mass-like fit range in GeV (a whole number of 4 GeV bins)
TRUTH = {2: (1.0, -5.0), 3: (1.0, -6.0, 2.0), 4: (1.0, -7.0, 6.0, -4.0)}


def test_exppoly_function_is_scaled_over_the_range() -> None:
    p = (2.0, -3.0, 1.0)
    np.testing.assert_allclose(exppoly_function(RANGE[0], p, RANGE), 2.0)
    np.testing.assert_allclose(exppoly_function(RANGE[1], p, RANGE), 2.0 * np.exp(-2.0))


def test_fit_recovers_the_parameters_of_a_known_spectrum() -> None:
    n = 50_000
    m = sample_exppoly(TRUTH[3], n, RANGE, np.random.default_rng(7))
    fit = fit_background(m, 3, fit_range=RANGE, family="exppoly")
    assert fit.family == "exppoly" and fit.chi2_bin_width == 20.0  # 5 fine bins of 4
    pulls = (fit.params[1:] - np.array(TRUTH[3][1:])) / fit.errors[1:]
    assert np.all(np.abs(pulls) < 3), pulls
    # p0 is the density at the lower edge: N over the integral of the unit-p0 shape
    shape, _ = integrate.quad(lambda x: exppoly_function(x, (1.0, *TRUTH[3][1:]), RANGE), *RANGE)
    assert abs(fit.params[0] - n / shape) < 3 * fit.errors[0]
    assert fit.chi2_pvalue > 0.01
    assert abs(fit.expected(fit.edges).sum() - n) < 1e-6 * n


@pytest.mark.parametrize("order", [2, 3, 4])
def test_ftest_picks_the_generated_order(order: int) -> None:
    m = sample_exppoly(TRUTH[order], 100_000, RANGE, np.random.default_rng(order))
    ftest, used = fit_with_ftest(m, fit_range=RANGE, candidates=(2, 3, 4, 5), family="exppoly")
    assert used == RANGE
    assert ftest.n_params == order, ftest.tests


def _bump_sample(n_signal: int) -> np.ndarray:
    """A falling jet-mass-like spectrum with a Gaussian bump at 500 GeV (width 30 GeV)."""
    rng = np.random.default_rng(21)
    bkg = sample_exppoly((1.0, -6.0, 1.5), 40_000, RANGE, rng)
    return np.concatenate([bkg, rng.normal(500.0, 30.0, n_signal)])


def test_scan_finds_a_bump_at_its_mass_in_a_jet_mass_spectrum() -> None:
    config = StatsConfig(
        background="exppoly",
        fit_range=RANGE,
        n_params=(2, 3, 4, 5),
        mass_hypotheses={"start": 300, "stop": 800, "step": 25},
        resolution=0.06,
        compute_limits=False,
    )
    out, hunt = analyze_region(_bump_sample(400), config, SignalModel(resolution=0.06))
    assert out["status"] == "ok" and hunt is not None
    assert out["fit"]["background"] == "exppoly"
    assert out["scan"]["max_z_mass"] == 500.0
    assert out["scan"]["max_z"] > 5
    fit, shapes = hunt
    at_500 = shapes[[round(s.mean) for s in shapes].index(500)]
    limit = mass_limit(fit, at_500, mass=500.0)
    assert limit.observed > limit.expected[2]  # the excess loosens the observed limit
    # toys (look-elsewhere effect) run on the exppoly fit as well
    glob = global_significance((fit, shapes), 30, seed=1)
    assert glob.observed_max_z > 5 and glob.n_exceed == 0


def test_background_only_gives_no_significant_excess() -> None:
    config = StatsConfig(background="exppoly", fit_range=RANGE, n_params=(2, 3, 4, 5),
                         resolution=0.06, compute_limits=False)  # fmt: skip
    out, _ = analyze_region(_bump_sample(0), config, SignalModel(resolution=0.06))
    assert out["status"] == "ok"
    masses = [p["mass"] for p in out["scan"]["points"]]
    assert masses[0] == 200.0 and masses[-1] == 880.0  # default: 40 GeV steps, 10% margins
    assert out["scan"]["max_z"] < 3


def test_config_background_choice() -> None:
    assert StatsConfig().background == "dijet"
    cfg = StatsConfig.from_dict(
        {"background": "exppoly", "n_params": [2, 3], "fit_range": [50, 300]}
    )
    assert cfg.fit_options() == {"family": "exppoly", "chi2_bin_width": None}
    assert StatsConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="background"):
        StatsConfig(background="polynomial")
    with pytest.raises(ValueError, match="n_params"):
        StatsConfig(n_params=(2, 3))  # the dijet function has 3 to 5
    with pytest.raises(ValueError, match="chi2_bin_width"):
        StatsConfig(chi2_bin_width=2.0)  # narrower than the fine bins
