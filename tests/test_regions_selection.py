from __future__ import annotations

import numpy as np
import pytest

from casehunt.errors import ConfigError, RegionError
from casehunt.folds import assign_folds
from casehunt.regions import CASE_EDGES, SignalRegion, regions_from_edges, staggered_edges
from casehunt.selection import sideband_threshold, weighted_quantile


def test_case_sets_give_twelve_signal_regions() -> None:
    regions = [r for edges in CASE_EDGES.values() for r in regions_from_edges(edges)]
    assert len(regions) == 12
    first = regions_from_edges(CASE_EDGES["A"])[0]
    assert (first.sb_low, first.low, first.high, first.sb_high) == (1450, 1650, 2017, 2465)


def test_staggered_edges_are_about_twenty_percent_wide_and_offset() -> None:
    a, b = staggered_edges(1500, 8000, 0.2, 2)
    widths = np.diff(a)[:-1] / np.asarray(a[:-2])
    np.testing.assert_allclose(widths, 0.2, atol=0.01)
    assert a[0] < b[0] < a[1]


def test_bad_region() -> None:
    with pytest.raises(ConfigError):
        SignalRegion(3700, 3300, 3100, 3900)
    with pytest.raises(ConfigError):
        regions_from_edges([1, 2, 3])


def test_weighted_quantile() -> None:
    values = np.arange(10.0)
    assert weighted_quantile(values, 0.5, np.ones(10)) == 4.0
    w = np.ones(10)
    w[9] = 100.0
    assert weighted_quantile(values, 0.5, w) == 9.0


def test_threshold_weights_the_high_sideband_to_the_low_count() -> None:
    rng = np.random.default_rng(0)
    region = SignalRegion(3300, 3700, 3100, 3900)
    # 4x more events in the low sideband; high-sideband scores are shifted up
    m = np.concatenate([rng.uniform(3100, 3300, 40_000), rng.uniform(3700, 3900, 10_000)])
    s = np.concatenate([rng.normal(0, 1, 40_000), rng.normal(1, 1, 10_000)])
    t = sideband_threshold(s, m, region, 0.1)
    eff_low = (s[:40_000] > t).mean()
    eff_high = (s[40_000:] > t).mean()
    assert abs(0.5 * (eff_low + eff_high) - 0.1) < 0.005


def test_threshold_needs_sideband_events() -> None:
    region = SignalRegion(3300, 3700, 3100, 3900)
    with pytest.raises(RegionError, match="no events in the sidebands"):
        sideband_threshold(np.ones(3), np.array([3400.0, 3500, 3600]), region, 0.1)


def test_folds_are_balanced_and_seeded() -> None:
    f = assign_folds(1003, 5, seed=1)
    assert sorted(np.bincount(f)) == [200, 200, 201, 201, 201]
    np.testing.assert_array_equal(f, assign_folds(1003, 5, seed=1))
    assert not np.array_equal(f, assign_folds(1003, 5, seed=2))
