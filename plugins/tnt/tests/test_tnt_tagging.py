"""The tagging step: each jet is labelled by the other jet's tagger, as CASE did."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tnt_toys import FAST, REGION

import casehunt_tnt.method as tnt_method
from casehunt.classifiers import quantile_knots
from casehunt.events import EventTable
from casehunt.methods import TrainingData
from casehunt_tnt import TagNTrain
from casehunt_tnt.tagging import (
    BACKGROUND_RICH,
    SIGNAL_RICH,
    UNUSED,
    percentile_rank,
    tag_labels,
)


def test_labels_come_from_the_other_jet() -> None:
    pct = np.array(
        [
            [95.0, 10.0],  # SR, jet 0 tagged: jet 1 signal-rich, jet 0 background-rich
            [10.0, 95.0],  # SR, jet 1 tagged: the other way round
            [95.0, 95.0],  # SR, both tagged: both signal-rich
            [60.0, 70.0],  # SR, both in between: unused
            [95.0, 95.0],  # sideband: background-rich whatever the tag
            [95.0, 10.0],  # outside the region: jet 0 unused, jet 1 unused
        ]
    )
    in_sr = np.array([1, 1, 1, 1, 0, 0], dtype=bool)
    in_sb = np.array([0, 0, 0, 0, 1, 0], dtype=bool)
    labels = tag_labels(pct, in_sr, in_sb, signal_rich=80.0, background_rich=50.0)
    S, B, U = SIGNAL_RICH, BACKGROUND_RICH, UNUSED
    expected = np.array([[B, S], [S, B], [S, S], [U, U], [B, B], [U, U]])
    np.testing.assert_array_equal(labels, expected)


def test_percentile_rank_is_per_jet_position() -> None:
    # the first jets all score higher than the second ones; each is ranked in its column
    values = np.array([[10.0, 1.0], [20.0, 2.0], [30.0, 3.0], [40.0, 4.0]])
    np.testing.assert_allclose(
        percentile_rank(values), [[12.5] * 2, [37.5] * 2, [62.5] * 2, [87.5] * 2]
    )
    np.testing.assert_allclose(
        percentile_rank(np.array([1.0, 1.0, 2.0, 3.0])), [25, 25, 62.5, 87.5]
    )


def test_quantile_knots_keep_order_beyond_training() -> None:
    x, q = quantile_knots(np.array([0.2, 0.2, 0.3, 0.5, 0.7]))
    assert np.all(np.diff(x) > 0) and np.all(np.diff(q) > 0)
    assert q[0] == 0.0 and q[-1] == 1.0
    assert np.all(np.diff(np.interp([0.05, 0.1, 0.8, 0.9], x, q)) > 0)


class _FeatureTagger:
    """Stands in for the autoencoder: the 'reconstruction error' is the jet's first feature."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def fit(self, x: np.ndarray, progress: bool = False) -> _FeatureTagger:
        return self

    def reconstruction_error(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x[:, 0], dtype=np.float64)


def test_method_tags_each_jet_with_the_other(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tnt_method, "JetAutoencoder", _FeatureTagger)
    rng = np.random.default_rng(0)
    n = 4000
    mjj = rng.uniform(REGION.sb_low, REGION.sb_high, n)
    tag = rng.random((n, 2))  # the tagger's score of each (stored) jet
    other = rng.normal(size=(n, 2))
    events = EventTable({"mjj": mjj, "tag": tag, "other": other})
    method = TagNTrain(
        {**FAST, "jet_features": ["tag", "other"], "order_by": None, "shared_classifier": False}
    )
    method.fit(TrainingData.for_region(events, REGION))
    labels = method.labels_
    assert labels is not None
    in_sr = REGION.in_signal_region(mjj)
    pct = percentile_rank(tag)
    for a in (0, 1):
        b = 1 - a
        # jet a is signal-rich exactly when jet b is tagged in the signal region
        np.testing.assert_array_equal(labels[:, a] == SIGNAL_RICH, in_sr & (pct[:, b] > 80))
        np.testing.assert_array_equal(labels[:, a] == BACKGROUND_RICH, ~in_sr | (pct[:, b] < 50))
    # a jet's own tag says nothing about its label: the tags are independent here
    own = pct[in_sr, 0][labels[in_sr, 0] == SIGNAL_RICH]
    assert 0.4 < np.mean(own > 50) < 0.6
