import numpy as np

from casehunt_stats import bin_events, ftest_select
from casehunt_stats.ftest import fit_with_ftest
from casehunt_stats.toys import sample_dijet

from .conftest import RANGE


def _choices(truth, n_toys, seed, n_events=30000):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_toys):
        counts, edges = bin_events(sample_dijet(truth, n_events, RANGE, rng), RANGE, 4.0)
        out.append(ftest_select(counts, edges, signal_mass=3000.0).n_params)
    return np.array(out)


def test_ftest_prefers_three_parameters_on_three_parameter_truth():
    ch = _choices([1.0, 10.0, 5.0], 20, seed=21)
    assert np.mean(ch == 3) >= 0.75


def test_ftest_picks_four_parameters_when_needed():
    ch = _choices([1.0, 10.0, 5.0, 1.0], 20, seed=22, n_events=60000)
    assert np.mean(ch >= 4) >= 0.75


def test_ftest_records_tests_and_respects_candidates(bkg_mjj):
    counts, edges = bin_events(bkg_mjj, RANGE, 4.0)
    res = ftest_select(counts, edges, candidates=(3, 4), threshold=0.1)
    assert set(res.fits) == {3, 4}
    assert res.tests and res.tests[0]["n_small"] == 3
    assert 0 <= res.tests[0]["p_value"] <= 1
    d = res.to_dict()
    assert d["chosen_n_params"] == res.n_params


def test_poor_fit_retry_narrows_the_range():
    rng = np.random.default_rng(4)
    # a turn-on at low mass that the dijet function cannot describe
    mjj = sample_dijet([1.0, 10.0, 5.0], 40000, (1460.0, 6000.0), rng)
    keep = (mjj > 1560) | (rng.random(mjj.size) < (mjj - 1460) / 100)
    res, used = fit_with_ftest(mjj[keep], fit_range=(1460.0, 6000.0), poor_fit_pvalue=0.01)
    assert used[0] > 1460.0
    assert res.chosen.chi2_pvalue > 0.01


def test_ftest_not_stuck_on_sculpted_spectra():
    """Flat, sculpted selections need p1 < 0: the larger fits must converge so the
    F-test can move past 3 parameters (it used to record 'did not converge')."""
    rng = np.random.default_rng(1)
    rng_ = (2700.0, 6000.0)
    counts, edges = bin_events(sample_dijet((1.0, -107.0, 159.0, 44.0), 1500, rng_, rng), rng_, 4.0)
    res = ftest_select(counts, edges, signal_mass=3500.0)
    assert set(res.fits) == {3, 4, 5}
    assert all("reason" not in t for t in res.tests)
    assert res.n_params >= 4
    assert res.chosen.chi2 / res.chosen.ndof < 2.5
