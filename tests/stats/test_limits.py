import numpy as np
import pyhf
import pytest

from casehunt_stats import SignalShape, cls_upper_limit, fit_background, mass_limit

from .conftest import RANGE


def test_single_bin_agrees_with_pyhf():
    res = cls_upper_limit(np.array([10.0]), np.array([8.0]), np.array([1.0]))
    spec = {
        "channels": [
            {
                "name": "c",
                "samples": [
                    {"name": "s", "data": [1.0], "modifiers": [{"name": "mu", "type": "normfactor", "data": None}]},
                    {"name": "b", "data": [8.0], "modifiers": []},
                ],
            }
        ],
        "parameters": [{"name": "mu", "bounds": [[0, 50]]}],
    }  # fmt: skip
    model = pyhf.Model(spec, poi_name="mu", validate=False)
    obs, exp = pyhf.infer.intervals.upper_limits.upper_limit(
        [10.0], model, scan=None, level=0.05, rtol=1e-6
    )
    assert res.observed == pytest.approx(float(obs), rel=0.01)
    np.testing.assert_allclose(res.expected, np.asarray(exp, dtype=float), rtol=0.01)


def test_background_only_limit_scale_and_band_order(bkg_mjj):
    fit = fit_background(bkg_mjj, 3, fit_range=RANGE)
    shape = SignalShape.gaussian(3000.0)
    res = mass_limit(fit, shape, xsec_scale=1.0 / (0.5 * 100.0))
    exp = np.array(res.expected)
    assert np.all(np.diff(exp) > 0)  # -2, -1, median, +1, +2 sigma
    # median expected ~ 2 x the Poisson error of the background under the peak
    b = fit.expected(np.array([2850.0, 3150.0]))[0]
    scale = 2.0 * np.sqrt(b) / 0.68
    assert 0.5 * scale < exp[2] < 2.0 * scale
    assert exp[0] < res.observed < exp[4]
    assert res.observed_xsec == pytest.approx(res.observed / 50.0)
    d = res.to_dict()
    assert d["expected_yield"] == list(res.expected)


def test_limit_grows_with_injected_signal(bkg_mjj):
    shape = SignalShape.gaussian(4000.0)
    sig = np.random.default_rng(9).normal(4000.0, 200.0, 80)
    fit0 = fit_background(bkg_mjj, 3, fit_range=RANGE)
    fit1 = fit_background(np.concatenate([bkg_mjj, sig]), 3, fit_range=RANGE)
    assert mass_limit(fit1, shape).observed > mass_limit(fit0, shape).observed + 30


@pytest.mark.parametrize("excess", [0.0, 25.0])
def test_fast_asymptotic_limits_match_pyhf_root_finding(excess):
    """The cached asymptotic calculator (2 fits per mu instead of 5, a short grid and
    monotone-cubic interpolation of log CLs) gives pyhf's own root-found limits,
    also when a strong excess puts the observed limit far above the band (where a
    linear interpolation on a coarse grid was off by several per cent)."""
    from casehunt_stats.limits import _asymptotic_limits, build_pyhf_model

    bkg = np.array([40.0, 32.0, 25.0, 20.0, 16.0, 12.0])
    sig = np.array([0.05, 0.2, 0.4, 0.25, 0.08, 0.02])
    counts = np.round(bkg + excess * sig)
    bvar = [(bkg * 1.05, bkg * 0.95)]
    svar = [(np.roll(sig, 1), np.roll(sig, -1))]
    model = build_pyhf_model(
        bkg, sig * 10.0, background_variations=bvar, signal_variations=[(h * 10, lo * 10) for h, lo in svar],
        poi_bound=1e3,
    )  # fmt: skip
    data = list(counts) + model.config.auxdata
    obs, exp = _asymptotic_limits(data, model, 0.95)
    ref_obs, ref_exp = pyhf.infer.intervals.upper_limits.upper_limit(
        data, model, scan=None, level=0.05, rtol=1e-7
    )
    assert obs == pytest.approx(float(ref_obs), rel=2e-3)
    np.testing.assert_allclose(exp, np.asarray(ref_exp, dtype=float), rtol=2e-3)
    res = cls_upper_limit(counts, bkg, sig, background_variations=bvar, signal_variations=svar)
    assert res.observed == pytest.approx(10.0 * float(ref_obs), rel=2e-3)


def test_a_failed_pyhf_fit_is_a_stats_error(monkeypatch):
    # a near-empty selected spectrum can leave pyhf's minimiser without a solution: the
    # limit must fail with the package's error (recorded per mass point by the rerun),
    # not with pyhf's, which would end the whole run
    from casehunt_stats import limits
    from casehunt_stats.errors import StatsError

    def fail(*args, **kwargs):
        raise pyhf.exceptions.FailedMinimization(type("R", (), {"message": "no minimum"})())

    monkeypatch.setattr(limits, "_asymptotic_limits", fail)
    with pytest.raises(StatsError, match="did not converge"):
        cls_upper_limit(np.array([5.0, 3.0]), np.array([4.0, 3.0]), np.array([0.6, 0.4]))
