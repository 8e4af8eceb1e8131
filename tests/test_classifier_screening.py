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
    ).columns
    assert {0, 1} <= set(kept)
    assert len(kept) - 2 <= 3  # at most half of the six noise columns survive


def test_without_noise_the_screen_keeps_every_column() -> None:
    X, y = weak_labels(np.random.default_rng(1), 0)
    kept = screen_features(lambda i: make_classifier("hgb", FAST, seed=i), X, y, repeats=2)
    assert kept.columns == [0, 1]
    assert [r.columns for r in kept.rounds] == [[0, 1]] and kept.rounds[0].reference is None


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


def mismodelled(
    rng: np.random.Generator, n_signal: int, shift: float = 0.4
) -> tuple[np.ndarray, np.ndarray]:
    """Data against a template whose column 2 (noise, no signal in it) is mismodelled."""
    X = np.concatenate([toy(rng, 3000, n_signal, 3), toy(rng, 6000, 0, 3)])
    y = np.r_[np.ones(3000 + n_signal), np.zeros(6000)]
    X[y == 0, 2] += shift
    return X, y


def test_a_reference_without_signal_removes_the_mismodelled_column() -> None:
    rng = np.random.default_rng(5)
    X, y = mismodelled(rng, 300)
    reference = (*mismodelled(rng, 0), None)
    make = lambda i: make_classifier("hgb", FAST, seed=i)  # noqa: E731
    plain = screen_features(make, X, y, rule="one_se", repeats=2)
    assert {0, 1, 2} <= set(plain.columns)  # the mismodelling reads as information
    referenced = screen_features(make, X, y, rule="one_se", repeats=2, reference=reference)
    assert {0, 1} <= set(referenced.columns) and 2 not in referenced.columns
    (r,) = referenced.rounds
    assert r.reference is not None and r.reference_error is not None
    assert r.reference[2] > 5 * r.reference_error[2]  # the reference sees the shift
    assert max(r.reference[0], r.reference[1]) < r.importance[0] / 5  # and no signal
    with pytest.raises(ValueError, match="the reference has 4 columns"):
        screen_features(make, X, y, reference=(X[:, :4], y, None))

    # through the backend: fit takes the reference and scores on the kept columns
    options = {**FAST, "feature_screen": "one_se", "screen_repeats": 2}
    clf = make_classifier("hgb", options, seed=3).fit(X, y, screen_reference=reference)
    assert 2 not in clf.columns_ and clf.screen_ is not None
    assert clf.predict(X).shape == (len(X),)


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
