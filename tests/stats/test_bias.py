import numpy as np

from casehunt_stats import SignalShape, bias_test, fit_background

from .conftest import RANGE


def test_bias_closure_pulls_are_standard_normal(bkg_mjj):
    fit = fit_background(bkg_mjj, 3, fit_range=RANGE)
    res = bias_test(fit, SignalShape.gaussian(3000.0), n_toys=120, seed=5,
                    alternative=fit.expected_fine())  # fmt: skip
    assert [lv["z_injected"] for lv in res.levels] == [0.0, 2.0, 5.0]
    assert res.levels[0]["signal_injected"] == 0.0
    assert 0 < res.levels[1]["signal_injected"] < res.levels[2]["signal_injected"]
    for lv in res.levels:
        assert abs(lv["pull_mean"]) < 0.3
        assert 0.8 < lv["pull_width"] < 1.2


def test_bias_with_alternative_function_runs(bkg_mjj):
    fit = fit_background(bkg_mjj, 3, fit_range=RANGE)
    res = bias_test(fit, SignalShape.gaussian(4000.0), z_levels=(0.0, 2.0), n_toys=30, seed=6)
    for lv in res.to_dict()["levels"]:
        assert lv["n_toys"] == 30
        assert np.isfinite(lv["pull_mean"]) and np.isfinite(lv["pull_width"])
        assert abs(lv["pull_mean"]) < 1.5  # x^-a1 exp(-a2 x) is close to the dijet family
