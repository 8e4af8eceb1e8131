import math

import numpy as np
import pytest
from scipy import integrate

from casehunt_stats import SignalModel, SignalShape
from casehunt_stats.toys import sample_pdf


def test_dscb_pdf_normalised_and_cdf_exact():
    s = SignalShape(3000.0, 150.0, 1.2, 4.0, 1.8, 8.0)
    total = integrate.quad(s.pdf, -1e5, 1e6, points=[2000, 3000, 4000], limit=500)[0]
    assert total == pytest.approx(1.0, abs=2e-3)
    for x in (2500.0, 2900.0, 3500.0):
        ref = s.cdf(np.array([1000.0]))[0] + integrate.quad(s.pdf, 1000, x, points=[3000])[0]
        assert s.cdf(np.array([x]))[0] == pytest.approx(ref, rel=1e-6)
    frac = s.bin_fractions(np.linspace(0, 20000, 101))
    assert frac.sum() == pytest.approx(1.0, abs=2e-3)


def test_gaussian_fallback():
    g = SignalShape.gaussian(3000.0, 0.05)
    assert g.kind == "gaussian"
    assert g.sigma == pytest.approx(150.0)
    np.testing.assert_allclose(
        g.cdf(np.array([2850.0, 3000.0, 3150.0])), [0.158655, 0.5, 0.841345], rtol=1e-5
    )
    assert SignalModel(resolution=0.07).at(2000.0).sigma == pytest.approx(140.0)


def test_dscb_fit_recovers_parameters():
    truth = SignalShape(3000.0, 150.0, 1.2, 4.0, 1.8, 8.0)
    mjj = sample_pdf(truth.pdf, 30000, 1000.0, 6000.0, np.random.default_rng(3))
    fit = SignalShape.fit(mjj)
    assert fit.mean == pytest.approx(3000.0, abs=5.0)
    assert fit.sigma == pytest.approx(150.0, rel=0.05)
    assert fit.alpha_l == pytest.approx(1.2, rel=0.2)
    assert fit.alpha_r == pytest.approx(1.8, rel=0.3)


def test_interpolation_spline_and_linear_tails():
    shapes = {
        2000.0: SignalShape(1980.0, 100.0, 1.0, 5.0, 2.0, 10.0),
        3000.0: SignalShape(2970.0, 150.0, 1.2, 6.0, 2.0, 10.0),
        4000.0: SignalShape(3960.0, 200.0, 1.4, 7.0, 2.0, 10.0),
    }
    model = SignalModel(shapes)
    s = model.at(3000.0)
    assert s.mean == pytest.approx(2970.0)
    mid = model.at(3500.0)
    assert mid.mean == pytest.approx(3465.0, rel=1e-3)  # mean/mass constant at 0.99
    assert mid.sigma == pytest.approx(175.0, rel=1e-3)
    assert mid.alpha_l == pytest.approx(1.3)
    assert mid.n_l == pytest.approx(6.5)
    far = model.at(6000.0)  # outside: ratios and tails held at the end values
    assert far.mean == pytest.approx(0.99 * 6000.0)
    assert far.alpha_l == pytest.approx(1.4)


def test_variations():
    s = SignalShape(3000.0, 150.0, 1.2, 4.0, 1.8, 8.0)
    v = s.varied(1.01, 1.035)
    assert v.mean == pytest.approx(3030.0)
    assert v.sigma == pytest.approx(155.25)
    assert math.isinf(SignalShape.gaussian(1000.0).alpha_l)
    assert SignalShape.gaussian(1000.0).to_dict()["alpha_l"] is None
