import numpy as np
import pytest

from casehunt_stats import (
    SignalShape,
    StatsConfig,
    calibrated_limit,
    discovery_cross_section,
    injection_scan,
)
from casehunt_stats.injection import inclusive_callback
from casehunt_stats.toys import sample_dijet

from .conftest import RANGE


def test_calibrated_limit_is_min_of_max():
    inj = [1.0, 2.0, 4.0, 8.0]
    excl = [6.0, 5.0, 3.0, 2.0]  # efficiency grows with injection: excluded falls
    assert calibrated_limit(inj, excl) == 4.0
    assert calibrated_limit(inj, [None, 5.0, None, 9.0]) == 5.0
    assert calibrated_limit([], []) is None


def test_discovery_rules():
    # linear interpolation, points under 0.1 sigma dropped
    out = discovery_cross_section([0.5, 1.0, 2.0, 3.0], [0.05, 1.0, 4.0, 7.0])
    assert out[3.0] == pytest.approx(1.0 + 2.0 / 3.0)
    assert out[5.0] == pytest.approx(2.0 + 1.0 / 3.0)
    # largest under 4 sigma: no result
    assert discovery_cross_section([1.0, 2.0], [1.0, 3.9]) == {3.0: None, 5.0: None}
    # largest in [4, 5): one point extrapolated at 1.15 x the last injection
    out = discovery_cross_section([1.0, 2.0], [2.0, 4.5])
    assert out[3.0] == pytest.approx(1.4)
    # slope 2.5 per unit: z(2.3) = 4.5 + 0.75 = 5.25 -> 5 sigma at 2.2
    assert out[5.0] == pytest.approx(2.2)
    # largest in [4, 5) and still short after extrapolation: 5 sigma has no result
    out = discovery_cross_section([1.0, 2.0], [4.0, 4.1])
    assert out[5.0] is None
    assert out[3.0] == pytest.approx(0.75)  # continued to the origin


def test_injection_scan_on_synthetic_method():
    """A toy method whose signal efficiency rises with the injected cross section."""
    rng = np.random.default_rng(41)
    lumi = 10.0
    bkg = sample_dijet([1.0, 10.0, 5.0], 4000, RANGE, rng)
    sig_pool = rng.normal(3000.0, 150.0, 20000)

    def efficiency(xs: float) -> float:
        return 0.2 + 0.6 * xs / (xs + 10.0)

    def callback(xs: float):
        n = round(xs * lumi * efficiency(xs))
        return np.concatenate([bkg, rng.choice(sig_pool, n)]), efficiency(xs)

    cfg = StatsConfig.from_dict({"n_params": [3]})
    scan = injection_scan(callback, [2.0, 6.0, 15.0, 30.0], mass=3000.0,
                          signal=SignalShape.gaussian(3000.0), luminosity=lumi, config=cfg)  # fmt: skip
    z = [p.asimov_z for p in scan.points]
    assert all(p.status == "ok" for p in scan.points)
    assert np.all(np.diff(z) > 0)
    for p in scan.points:
        assert p.excluded_xsec == pytest.approx(p.excluded_yield / (p.signal_efficiency * lumi))
        assert p.expected_signal == pytest.approx(p.injected_xsec * p.signal_efficiency * lumi)
    lim = scan.limit
    assert lim == min(max(p.injected_xsec, p.excluded_xsec) for p in scan.points)
    assert 2.0 <= lim <= 30.0
    d = scan.to_dict()
    assert d["calibrated_limit_xsec"] == lim
    if d["xsec_5sigma"] is not None:
        assert d["xsec_3sigma"] < d["xsec_5sigma"]


def test_inclusive_callback_injects_poisson_signal():
    bkg = np.full(100, 2000.0)
    cb = inclusive_callback(
        bkg, np.full(10, 3000.0), luminosity=100.0, presel_efficiency=0.5, seed=1
    )
    mjj, eff = cb(2.0)
    assert eff == 1.0
    n_sig = int(np.sum(mjj == 3000.0))
    assert 60 < n_sig < 140  # Poisson(100)
