import itertools

import numpy as np
import pytest
from scipy import integrate

from casehunt_stats import (
    StatsError,
    bin_events,
    dijet_function,
    fit_background,
    fit_binned,
    integrate_dijet,
)
from casehunt_stats.dijet import DijetModel, chi2_binning, fisher_fit, poisson_nll
from casehunt_stats.toys import sample_dijet

from .conftest import RANGE, TRUTH3


def test_function_and_integral():
    p = [2.0, 10.0, 5.0, 0.1, 0.01]
    x = 3000 / 13000
    lx = np.log(x)
    expected = 2.0 * (1 - x) ** 10 / x ** (5 + 0.1 * lx + 0.01 * lx**2)
    assert dijet_function(3000.0, p) == pytest.approx(expected)
    edges = np.array([1500.0, 1700.0, 2600.0])
    quad = [
        integrate.quad(lambda m: dijet_function(m, p), a, b)[0]
        for a, b in itertools.pairwise(edges)
    ]
    np.testing.assert_allclose(integrate_dijet(edges, p), quad, rtol=1e-8)
    with pytest.raises(ValueError, match="3, 4 or 5"):
        dijet_function(3000.0, [1, 2])


def test_model_jacobian_matches_finite_differences():
    edges = np.linspace(1500, 6000, 101)
    model = DijetModel(edges, 5)
    theta = np.array([1e4, 10.0, 5.0, 0.2, 0.02])
    _, jac = model.expected_and_jacobian(theta)
    for j in range(theta.size):
        h = 1e-6 * max(abs(theta[j]), 1e-2)
        up, dn = theta.copy(), theta.copy()
        up[j] += h
        dn[j] -= h
        num = (model.expected(up) - model.expected(dn)) / (2 * h)
        np.testing.assert_allclose(jac[:, j], num, rtol=1e-4, atol=1e-6 * np.abs(num).max())


def test_fit_recovers_parameters(bkg_mjj):
    fit = fit_background(bkg_mjj, 3, fit_range=RANGE)
    pulls = (fit.params[1:] - np.array(TRUTH3[1:])) / fit.errors[1:]
    assert np.all(np.abs(pulls) < 3)
    assert 0.4 < fit.chi2 / fit.ndof < 2.0
    # normalisation: the fit predicts the observed number of events
    assert fit.expected(fit.edges).sum() == pytest.approx(bkg_mjj.size, rel=1e-3)
    assert fit.expected_fine().sum() == pytest.approx(bkg_mjj.size, rel=1e-6)
    table = fit.chi2_table()
    assert len(table["edges"]) == len(table["pulls"]) + 1
    assert table["edges"][0] == RANGE[0] and table["edges"][-1] == RANGE[1]
    assert fit.rel_uncertainty_at(3000.0) < 0.1


def test_fit_pulls_unbiased_over_toys():
    rng = np.random.default_rng(7)
    truth = np.array([1.0, 10.0, 5.0, 0.3])
    pulls = []
    for _ in range(40):
        mjj = sample_dijet(truth, 20000, RANGE, rng)
        fit = fit_background(mjj, 4, fit_range=RANGE)
        pulls.append((fit.params[1:] - truth[1:]) / fit.errors[1:])
    pulls = np.array(pulls)
    assert np.all(np.abs(pulls.mean(axis=0)) < 0.45)  # 40 toys: error on the mean 0.16
    assert np.all((pulls.std(axis=0) > 0.7) & (pulls.std(axis=0) < 1.35))


@pytest.mark.slow
def test_fit_pulls_unbiased_over_many_toys():
    rng = np.random.default_rng(8)
    truth = np.array([1.0, 10.0, 5.0])
    pulls = []
    for _ in range(300):
        fit = fit_background(sample_dijet(truth, 20000, RANGE, rng), 3, fit_range=RANGE)
        pulls.append((fit.params[1:] - truth[1:]) / fit.errors[1:])
    pulls = np.array(pulls)
    assert np.all(np.abs(pulls.mean(axis=0)) < 0.1 + 0.06)
    assert np.all(np.abs(pulls.std(axis=0) - 1) < 0.1)


def test_nested_models_and_fisher_fit_agree(bkg_mjj):
    counts, edges = bin_events(bkg_mjj, RANGE, 4.0)
    fits = {n: fit_binned(counts, edges, n) for n in (3, 4, 5)}
    assert fits[4].nll <= fits[3].nll + 1e-6
    assert fits[5].nll <= fits[4].nll + 1e-6
    f3 = fits[3]
    theta, nll, ok = fisher_fit(f3.model, counts, f3.theta * np.array([1.02, 1.05, 0.97]))
    assert ok
    assert nll == pytest.approx(f3.nll, abs=1e-3)
    np.testing.assert_allclose(theta, f3.theta, rtol=1e-3)


def test_too_few_events_is_a_clear_error():
    with pytest.raises(StatsError, match="too few events"):
        fit_background(np.array([2000.0, 2500.0]), 3, fit_range=RANGE)
    with pytest.raises(StatsError, match="no events"):
        fit_background(np.array([]), 3)


def test_chi2_binning_clips_and_extends():
    e = chi2_binning((1500.0, 7500.0))
    assert e[0] == 1500 and e[-1] == 7500
    assert np.all(np.diff(e) > 0)
    assert 1530 in e and 6800 in e


# A sculpted (flat, then falling) spectrum like a 1%-efficiency weakly supervised
# selection: the 4-parameter optimum has p1 ~ -100, where the fits used to fail.
SCULPTED4 = (1.0, -107.0, 159.0, 44.0)
SCULPTED_RANGE = (2700.0, 6000.0)


@pytest.mark.parametrize("seed", [1, 3, 4])
def test_larger_fits_converge_on_sculpted_spectra(seed):
    mjj = sample_dijet(SCULPTED4, 265, SCULPTED_RANGE, np.random.default_rng(seed))
    counts, edges = bin_events(mjj, SCULPTED_RANGE, 4.0)
    fits, start = {}, None
    for n in (3, 4, 5):
        fits[n] = fit_binned(counts, edges, n, start=start)  # used to raise FitError
        start = fits[n].params[1:]
    # nested models: the larger fit is never worse than the smaller one
    assert fits[4].nll <= fits[3].nll + 1e-6
    assert fits[5].nll <= fits[4].nll + 1e-6
    # and it reaches the true minimum: not worse than the truth shape
    truth = np.array([counts.sum(), *SCULPTED4[1:]])
    assert fits[4].nll <= poisson_nll(counts, fits[4].model.expected(truth)) + 1e-6
    for f in fits.values():
        assert f.converged and np.all(np.isfinite(f.theta_cov))
        assert np.all(np.isfinite(f.expected(chi2_binning(SCULPTED_RANGE))))
        assert 0 < f.rel_uncertainty_at(3500.0) < 1


def test_extreme_shape_parameters_do_not_overflow():
    """p0 of a valid 5-parameter optimum can under- or overflow a float: results use log p0."""
    edges = np.linspace(2700.0, 6000.0, 826)
    model = DijetModel(edges, 5)
    theta = np.array([250.0, -3575.0, 7213.0, 3523.2, 648.9])
    counts = np.random.default_rng(2).poisson(model.expected(theta)).astype(float)
    fit = fit_binned(counts, edges, 5)
    assert np.isfinite(fit.log_p0)
    assert fit.expected(edges).sum() == pytest.approx(counts.sum(), rel=1e-6)
    assert np.all(np.isfinite(fit.uncertainty(chi2_binning(SCULPTED_RANGE))))
    d = fit.to_dict()
    assert np.isfinite(d["log_p0"])
