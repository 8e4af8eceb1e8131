"""Feature screening of the boosted-tree backend (casehunt.classifiers.screening)."""

from __future__ import annotations

import numpy as np
import pytest

from casehunt.classifiers import make_classifier
from casehunt.classifiers.screening import keep_by_rule, screen_features
from casehunt.errors import ConfigError

FAST = {"n_models": 1, "max_iter": 50}


def toy(rng: np.random.Generator, n_background: int, n_signal: int, n_noise: int) -> np.ndarray:
    """Two informative columns (a signal cluster at (1.5, 1.5)), then `n_noise` noise ones."""
    x = rng.normal(size=(n_background + n_signal, 2 + n_noise))
    x[n_background:, :2] = rng.normal(1.5, 0.3, size=(n_signal, 2))
    return x


def weak_labels(rng: np.random.Generator, n_noise: int) -> tuple[np.ndarray, np.ndarray]:
    """Data (background with 10% signal, label 1) against a background template (0)."""
    X = np.concatenate([toy(rng, 3000, 300, n_noise), toy(rng, 6000, 0, n_noise)])
    return X, np.r_[np.ones(3300), np.zeros(6000)]


def test_the_screen_keeps_the_informative_columns_and_drops_most_noise() -> None:
    X, y = weak_labels(np.random.default_rng(0), 6)
    kept = screen_features(
        lambda i: make_classifier("hgb", FAST, seed=i), X, y, rule="one_se", repeats=2
    )
    assert {0, 1} <= set(kept)
    assert len(kept) - 2 <= 3  # at most half of the six noise columns survive


def test_without_noise_the_screen_keeps_every_column() -> None:
    X, y = weak_labels(np.random.default_rng(1), 0)
    kept = screen_features(lambda i: make_classifier("hgb", FAST, seed=i), X, y, repeats=2)
    assert kept == [0, 1]


def test_the_screened_backend_scores_full_width_input_on_its_kept_columns() -> None:
    rng = np.random.default_rng(2)
    X, y = weak_labels(rng, 4)
    options = {**FAST, "feature_screen": "positive", "screen_rounds": 2, "screen_repeats": 2}
    clf = make_classifier("hgb", options, seed=3).fit(X, y)
    assert {0, 1} <= set(clf.columns_) and len(clf.columns_) < 6
    signal, background = toy(rng, 0, 500, 4), toy(rng, 500, 0, 4)
    assert np.median(clf.predict(signal)) > np.quantile(clf.predict(background), 0.9)
    # the same seed screens and trains the same way
    again = make_classifier("hgb", options, seed=3).fit(X, y)
    assert again.columns_ == clf.columns_
    np.testing.assert_array_equal(again.predict(signal), clf.predict(signal))


def test_rules_and_bad_options() -> None:
    mean, se = np.array([0.5, -0.1, 0.2]), np.array([0.1, 0.1, 0.3])
    assert keep_by_rule(mean, se, "positive").tolist() == [0, 2]
    assert keep_by_rule(mean, se, "one_se").tolist() == [0]
    assert keep_by_rule(-mean, se, "positive").tolist() == [1]  # none positive: the best one
    with pytest.raises(ValueError, match="unknown screening rule 'top'"):
        keep_by_rule(mean, se, "top")
    with pytest.raises(ConfigError, match="'feature_screen'"):
        make_classifier("hgb", {"feature_screen": "yes"})
    with pytest.raises(ConfigError, match="'screen_folds'"):
        make_classifier("hgb", {"screen_folds": 1})


def test_too_few_events_for_the_inner_folds_names_the_option() -> None:
    X = np.random.default_rng(4).normal(size=(23, 3))
    y = np.r_[np.ones(3), np.zeros(20)]
    with pytest.raises(ValueError, match=r"class 1 has 3 training events.*'screen_folds'"):
        make_classifier("hgb", {**FAST, "feature_screen": "positive"}).fit(X, y)
