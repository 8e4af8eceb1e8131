import json

import numpy as np
import pytest
from scipy import stats

from casehunt_stats import (
    SignalModel,
    SignalShape,
    StatsConfig,
    StatsError,
    bumphunter_on_fit,
    bumphunter_scan,
    fit_background,
    global_significance,
)
from casehunt_stats.bumphunter import excluding_refit, search_windows, window_pvalues, windows
from casehunt_stats.dijet import chi2_binning, fisher_fit, integrate_dijet
from casehunt_stats.rerun import analyze_region
from casehunt_stats.significance import FastScan
from casehunt_stats.toys import sample_dijet

from .conftest import RANGE, TRUTH3

EDGES = chi2_binning(RANGE)  # the CMS dijet bins, 33 bins in 1.5-6 TeV
MASS = 3500.0


def smooth_background(total: float = 30000.0) -> np.ndarray:
    b = integrate_dijet(EDGES, TRUTH3)
    return total * b / b.sum()


def bump(n_sig: float) -> np.ndarray:
    return n_sig * SignalShape.gaussian(MASS).bin_fractions(EDGES)


def test_windows_and_local_pvalues_follow_the_paper():
    win = windows(10, 1, 5)
    assert len(win) == 10 + 9 + 8 + 7 + 6
    assert windows(10).max() == 10 and (windows(10)[:, 1] - windows(10)[:, 0]).max() == 5
    b = np.array([4.0, 5.0, 6.0, 2.5])
    n = np.array([9.0, 3.0, 6.0, 2.0])
    win = windows(4, 1, 4)
    p = window_pvalues(n, b, win)
    for (lo, hi), pv in zip(win, p, strict=True):
        d, e = n[lo:hi].sum(), b[lo:hi].sum()
        assert pv == pytest.approx(stats.poisson.sf(d - 1, e) if d > e else 1.0, rel=1e-10)
    with pytest.raises(StatsError, match="min_width"):
        windows(10, 6, 5)


def test_window_found_at_the_injected_mass():
    b = smooth_background()
    rng = np.random.default_rng(1)
    n = rng.poisson(b + bump(120.0)).astype(float)
    res = bumphunter_scan(n, b, EDGES, n_toys=1000, seed=2)
    assert res.low <= MASS < res.high
    assert res.high - res.low < 1200.0
    assert res.t == pytest.approx(-np.log(res.local_p))
    assert res.n_exceed == 0 and res.global_p == 0.0
    assert 0 < res.global_p_err < 2e-3  # no toy above: still not an exact p-value
    d = json.loads(json.dumps(res.to_dict()))
    assert d["window"] == [res.low, res.high] and d["n_toys"] == 1000
    assert d["widths"] == [1, (EDGES.size - 1) // 2]
    # a deficit everywhere: no window, t = 0, every toy at least as extreme
    none = bumphunter_scan(np.zeros_like(b), b, EDGES, n_toys=50)
    assert not none.has_excess and none.t == 0 and none.global_p == 1.0
    assert none.to_dict()["window"] is None


def test_centres_restrict_the_search_range_in_data_and_toys():
    b = smooth_background()
    rng = np.random.default_rng(3)
    # an excess at 2 TeV, outside the range searched, and a smaller one at 3.5 TeV
    n = rng.poisson(b + bump(80.0) + 1500.0 * SignalShape.gaussian(2000.0).bin_fractions(EDGES))
    n = n.astype(float)
    everywhere = bumphunter_scan(n, b, EDGES, n_toys=200, seed=4)
    assert everywhere.low < 2000.0 < everywhere.high
    inside = bumphunter_scan(n, b, EDGES, n_toys=200, seed=4, centres=(3000.0, 5000.0))
    assert 3000.0 <= 0.5 * (inside.low + inside.high) <= 5000.0
    assert inside.low <= MASS < inside.high
    # fewer windows in every pseudo-experiment: its most extreme window is no more extreme
    assert np.all(inside.toy_t <= everywhere.toy_t + 1e-12)
    with pytest.raises(StatsError, match="centre in"):
        bumphunter_scan(n, b, EDGES, n_toys=0, centres=(100.0, 200.0))


def test_background_only_global_p_is_uniform():
    b = smooth_background()
    rng = np.random.default_rng(7)
    ps = np.array(
        [bumphunter_scan(rng.poisson(b).astype(float), b, EDGES, n_toys=150, seed=rng).global_p
         for _ in range(150)]
    )  # fmt: skip
    assert stats.kstest(ps, "uniform").pvalue > 0.01
    assert np.mean(ps < 0.1) == pytest.approx(0.1, abs=3 * np.sqrt(0.09 / ps.size))


def test_window_contains_the_likelihood_max_z_mass_in_injected_toys():
    rng = np.random.default_rng(5)
    masses = np.arange(1800.0, 5001.0, 100.0)
    shapes = [SignalShape.gaussian(m) for m in masses]
    hits = []
    for _ in range(12):
        mjj = np.concatenate([sample_dijet(TRUTH3, 30000, RANGE, rng), rng.normal(MASS, 175, 90)])
        fit = fit_background(mjj, 3, fit_range=RANGE)
        z = FastScan(fit, shapes).zvalues(fit.counts)
        res = bumphunter_on_fit(fit, n_toys=0)
        hits.append(res.contains(masses[np.argmax(z)]))
    assert np.mean(hits) >= 0.75


def test_global_p_values_of_bumphunter_and_likelihood():
    """Both are uniform on background-only data; a clear signal is global in both.

    On one injected data set the two global p-values differ by more than their toy
    errors (BumpHunter assumes no shape and is less powerful, arXiv:1101.0390 Sec. 4.2;
    statistics/scripts/bumphunter_vs_likelihood.py measures it), so what is compared
    here is their behaviour: the fraction of background-only data sets with p < 0.5
    agrees between them within the binomial errors, and with 0.5.
    """
    rng = np.random.default_rng(21)
    shapes = [SignalShape.gaussian(m) for m in np.arange(2000.0, 5001.0, 250.0)]
    p_bh, p_lh = [], []
    for _ in range(16):
        fit = fit_background(sample_dijet(TRUTH3, 20000, RANGE, rng), 3, fit_range=RANGE)
        p_bh.append(bumphunter_on_fit(fit, n_toys=60, seed=rng).global_p)
        p_lh.append(global_significance([(fit, shapes)], 60, seed=rng).p_value)
    f_bh, f_lh = np.mean(np.array(p_bh) < 0.5), np.mean(np.array(p_lh) < 0.5)
    err = np.sqrt(0.25 / 16)
    assert abs(f_bh - f_lh) < 3 * np.sqrt(2) * err
    assert abs(f_bh - 0.5) < 3 * err and abs(f_lh - 0.5) < 3 * err
    mjj = np.concatenate([sample_dijet(TRUTH3, 20000, RANGE, rng), rng.normal(MASS, 175, 150)])
    fit = fit_background(mjj, 3, fit_range=RANGE)
    bh = bumphunter_on_fit(fit, n_toys=100, seed=rng)
    lh = global_significance([(fit, shapes)], 100, seed=rng)
    assert bh.n_exceed == 0 and lh.n_exceed == 0


def test_global_p_at_a_local_z_is_the_trials_factor():
    """One window (one mass) has no look-elsewhere effect: its global p at a local Z is
    that Z's local p; more windows (masses) raise it."""
    b = smooth_background()
    one_window = (3470.0, 3490.0)  # the centre of the 1-bin window 3416-3558 GeV
    one = bumphunter_scan(b, b, EDGES, min_width=1, max_width=1, centres=one_window,
                          n_toys=2000, seed=3)  # fmt: skip
    err = np.sqrt(stats.norm.sf(1.0) * stats.norm.cdf(1.0) / 2000)
    assert one.global_p_at(1.0) == pytest.approx(stats.norm.sf(1.0), abs=4 * err)
    every = bumphunter_scan(b, b, EDGES, n_toys=2000, seed=3)
    assert every.global_p_at(1.0) > stats.norm.sf(1.0) + 10 * err
    assert every.global_p_at(3.0) < every.global_p_at(2.0) < every.global_p_at(1.0)

    rng = np.random.default_rng(5)
    fit = fit_background(sample_dijet(TRUTH3, 20000, RANGE, rng), 3, fit_range=RANGE)
    single = global_significance([(fit, [SignalShape.gaussian(MASS)])], 1000, seed=6)
    err = np.sqrt(stats.norm.sf(1.0) * stats.norm.cdf(1.0) / 1000)
    assert single.global_p_at(1.0) == pytest.approx(stats.norm.sf(1.0), abs=4 * err)
    shapes = [SignalShape.gaussian(m) for m in np.arange(2000.0, 5001.0, 250.0)]
    many = global_significance([(fit, shapes)], 1000, seed=6)
    assert many.global_p_at(1.0) > stats.norm.sf(1.0) + 6 * err


def test_masked_fit_ignores_the_excluded_bins():
    rng = np.random.default_rng(11)
    clean = fit_background(sample_dijet(TRUTH3, 30000, RANGE, rng), 3, fit_range=RANGE)
    _, model, theta = clean.conditioned_fit()
    centres = 0.5 * (clean.edges[:-1] + clean.edges[1:])
    window = (centres > 3200) & (centres < 3800)
    bumped = clean.counts + np.where(window, 40.0, 0.0)  # 40 events per fine bin
    full, _, _ = fisher_fit(model, bumped, theta)
    masked, _, ok = fisher_fit(model, bumped, theta, mask=~window)
    assert ok
    in_window = lambda t: model.expected(t)[window].sum()  # noqa: E731
    # the full fit absorbs part of the bump; without the window the fit is the clean one
    assert in_window(full) > in_window(theta) + 50
    assert in_window(masked) == pytest.approx(in_window(theta), rel=0.03)
    # no mask is the plain fit
    np.testing.assert_allclose(fisher_fit(model, bumped, theta, mask=np.ones_like(window))[0], full)
    with pytest.raises(StatsError, match="mask"):
        fisher_fit(model, bumped, theta, mask=np.zeros_like(window))


def test_exclusion_refit_raises_the_significance_of_a_real_excess():
    rng = np.random.default_rng(12)
    mjj = np.concatenate([sample_dijet(TRUTH3, 30000, RANGE, rng), rng.normal(MASS, 175, 120)])
    fit = fit_background(mjj, 3, fit_range=RANGE)
    plain = bumphunter_on_fit(fit, n_toys=0)
    excl = bumphunter_on_fit(fit, n_toys=50, seed=1, exclusion_p=0.01)
    assert excl.contains(MASS) and plain.contains(MASS)
    # the refit without the window no longer absorbs the excess
    assert excl.expected < plain.expected and excl.local_p < plain.local_p
    # a threshold no window passes leaves the fit as it is
    _, model, theta = fit.conditioned_fit()
    edges = chi2_binning(fit.fit_range, fit.edges, fit.chi2_bin_width)
    idx = np.searchsorted(fit.edges, edges)[:-1]
    win = search_windows(edges)
    assert excluding_refit(model, fit.counts, theta, idx, win, 1e-300) is theta
    with pytest.raises(StatsError, match="exclusion_p"):
        bumphunter_on_fit(fit, n_toys=0, exclusion_p=2.0)


def test_background_only_global_p_with_exclusion_is_uniform():
    """Data and pseudo-data go through the same fit-exclude-refit, so p stays calibrated."""
    rng = np.random.default_rng(13)
    ps = []
    for _ in range(40):
        fit = fit_background(sample_dijet(TRUTH3, 20000, RANGE, rng), 3, fit_range=RANGE)
        ps.append(bumphunter_on_fit(fit, n_toys=60, seed=rng, exclusion_p=0.01).global_p)
    ps = np.array(ps)
    assert stats.kstest(ps, "uniform").pvalue > 0.01
    assert np.mean(ps < 0.5) == pytest.approx(0.5, abs=3 * np.sqrt(0.25 / ps.size))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("bumphunter_toys", -1),
        ("bumphunter_toys", 1.5),
        ("bumphunter_widths", [3]),
        ("bumphunter_widths", [0, 4]),
        ("bumphunter_widths", [5, 2]),
        ("bumphunter_widths", [1, 2.5]),
        ("bumphunter_widths", "1-5"),
        ("bumphunter_same_range", "yes"),
        ("bumphunter_exclusion_p", 0),
        ("bumphunter_exclusion_p", 1.5),
        ("bumphunter_exclusion_p", True),
    ],
)
def test_config_errors_name_the_key(key, value):
    with pytest.raises(ValueError, match=key):
        StatsConfig.from_dict({key: value})


def test_config_round_trip():
    cfg = StatsConfig.from_dict({"bumphunter_toys": 100, "bumphunter_widths": [2, 8]})
    assert cfg.bumphunter_widths == (2, 8)
    assert StatsConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert StatsConfig().bumphunter_toys == 0 and StatsConfig().bumphunter_widths is None


def test_analyze_region_adds_the_cross_check_only_when_on(bump_mjj):
    base = {"mass_hypotheses": [2600.0, 3000.0, 3400.0], "compute_limits": False,
            "n_params": [3], "fit_range": list(RANGE)}  # fmt: skip
    off, _ = analyze_region(bump_mjj, StatsConfig.from_dict(base), SignalModel())
    assert "bumphunter" not in off
    cfg = StatsConfig.from_dict(
        {**base, "bumphunter_toys": 100, "bumphunter_widths": [1, 6], "global_toys": 30}
    )
    out, _ = analyze_region(bump_mjj, cfg, SignalModel())
    assert set(off) <= set(out)  # additive: nothing existing changes
    bh = json.loads(json.dumps(out["bumphunter"]))
    low, high = bh["window"]
    assert low <= 3000.0 < high
    assert bh["n_toys"] == 100 and bh["widths"] == [1, 6]
    assert 0 <= bh["global_p"] <= 1 and bh["global_p_err"] >= 0
    lik = bh["likelihood"]
    assert lik["max_z_mass"] == out["scan"]["max_z_mass"] and lik["max_z"] > 3
    assert lik["global_toys"] == 30 and 0 <= lik["global_p"] <= 1
    assert lik["global_max_z"] == pytest.approx(lik["max_z"], abs=1.0)  # no nuisances there
    for trials in (bh["global_p_at_local_z"], lik["global_p_at_local_z"]):
        assert set(trials) == {"2.0", "3.0"} and 0 <= trials["3.0"] <= trials["2.0"] <= 1
    assert bh["max_z_mass_in_window"] is (low <= lik["max_z_mass"] < high)
    # the same search range as the scan: every window centred within its masses
    same, _ = analyze_region(
        bump_mjj, StatsConfig.from_dict({**base, "bumphunter_toys": 50,
                                         "bumphunter_same_range": True}), SignalModel()
    )  # fmt: skip
    low, high = same["bumphunter"]["window"]
    assert 2600.0 <= 0.5 * (low + high) <= 3400.0
    # the background refitted without the excess's window
    cfg = StatsConfig.from_dict(
        {**base, "bumphunter_toys": 30, "bumphunter_widths": [1, 6], "bumphunter_exclusion_p": 0.01}
    )
    excl, _ = analyze_region(bump_mjj, cfg, SignalModel())
    low, high = excl["bumphunter"]["window"]
    assert low <= 3000.0 < high
    assert excl["bumphunter"]["local_p"] <= out["bumphunter"]["local_p"]


def test_same_window_and_local_p_as_pybumphunter(capsys):
    pbh = pytest.importorskip("pyBumpHunter")
    b = smooth_background()
    n = np.random.default_rng(3).poisson(b + bump(40.0))
    ours = bumphunter_scan(n.astype(float), b, EDGES, n_toys=1000, seed=4)
    theirs = pbh.BumpHunter1D(rang=(EDGES[0], EDGES[-1]), bins=EDGES, width_min=1,
                              npe=1000, nworker=1, seed=5)  # fmt: skip
    theirs.bump_scan(n, b, is_hist=True)
    capsys.readouterr()  # pyBumpHunter prints its progress
    assert (int(theirs.min_loc_ar[0]), int(theirs.min_width_ar[0])) == (
        ours.first_bin, ours.last_bin - ours.first_bin)  # fmt: skip
    assert theirs.min_Pval_ar[0] == pytest.approx(ours.local_p, rel=1e-9)
    assert theirs.t_ar[0] == pytest.approx(ours.t, rel=1e-9)
    # independent toys: the global p-values agree within their binomial errors
    p1, p2 = ours.global_p, theirs.global_Pval
    err = np.sqrt(max(p1 * (1 - p1), p2 * (1 - p2), 1e-3) * 2 / 1000)
    assert abs(p1 - p2) < 4 * err
