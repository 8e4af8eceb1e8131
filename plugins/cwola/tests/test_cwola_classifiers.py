"""The shared classifier backends of casehunt.classifiers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from casehunt.classifiers import (
    CLASSIFIERS,
    BinaryClassifier,
    HGBEnsemble,
    TorchMLP,
    balanced_weights,
    classifier_defaults,
    combine_jet_quantiles,
    make_classifier,
)
from casehunt.errors import ConfigError

FAST_MLP = {"hidden": [16, 16], "max_epochs": 8, "patience": 3, "batch_size": 256}


def gaussian_blobs(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two unequal classes, separated in the first of three features."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.25).astype(np.int64)
    X = rng.normal(size=(n, 3))
    X[:, 0] += 1.5 * y
    return X, y


def auc(scores: np.ndarray, y: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, scores))


def backends() -> list[Any]:
    return [
        pytest.param("hgb", {"n_models": 2}, id="hgb"),
        pytest.param("mlp", FAST_MLP, id="mlp", marks=pytest.mark.torch),
    ]


@pytest.mark.parametrize(("name", "options"), backends())
def test_learns_and_scores_in_unit_interval(name: str, options: dict[str, Any]) -> None:
    if name == "mlp":
        pytest.importorskip("torch")
    X, y = gaussian_blobs()
    clf = make_classifier(name, options, seed=1)
    assert isinstance(clf, BinaryClassifier)
    X_test, y_test = gaussian_blobs(seed=5)
    scores = clf.fit(X, y).predict(X_test)
    assert scores.shape == (len(X_test),)
    assert np.all((scores >= 0) & (scores <= 1))
    # the optimal AUC of a 1.5 sigma shift is Phi(1.5 / sqrt 2) = 0.86
    assert auc(scores, y_test) > 0.8
    # balanced classes: averaged over the two classes alike, the score is about 1/2
    # (unbalanced, it would be near the class-1 fraction, 1/4)
    class_mean = 0.5 * (scores[y_test == 0].mean() + scores[y_test == 1].mean())
    assert 0.4 < class_mean < 0.6


@pytest.mark.parametrize(("name", "options"), backends())
def test_deterministic_for_a_seed(name: str, options: dict[str, Any]) -> None:
    if name == "mlp":
        pytest.importorskip("torch")
    X, y = gaussian_blobs(2000)
    a = make_classifier(name, options, seed=3).fit(X, y).predict(X)
    b = make_classifier(name, options, seed=3).fit(X, y).predict(X)
    c = make_classifier(name, options, seed=4).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_hgb_ensemble_members_have_their_own_seeds() -> None:
    X, y = gaussian_blobs(2000)
    clf = HGBEnsemble(n_models=3, seed=0).fit(X, y)
    assert len(clf.models_) == 3
    assert len({m.random_state for m in clf.models_}) == 3
    np.testing.assert_allclose(
        clf.predict(X), np.mean([m.predict_proba(X)[:, 1] for m in clf.models_], axis=0)
    )


def test_sample_weights_change_the_fit() -> None:
    X, y = gaussian_blobs(2000)
    w = np.where(X[:, 1] > 0, 5.0, 1.0)
    a = make_classifier("hgb", {"n_models": 1}, seed=0).fit(X, y).predict(X)
    b = make_classifier("hgb", {"n_models": 1}, seed=0).fit(X, y, sample_weight=w).predict(X)
    assert not np.allclose(a, b)


def test_balanced_weights() -> None:
    y = np.array([0, 0, 0, 1])
    w = balanced_weights(y)
    assert w[y == 0].sum() == pytest.approx(w[y == 1].sum())
    assert w.sum() == pytest.approx(len(y))
    weighted = balanced_weights(y, np.array([1.0, 1.0, 2.0, 3.0]))
    assert weighted[y == 0].sum() == pytest.approx(weighted[y == 1].sum())
    assert weighted[2] == pytest.approx(2 * weighted[0])
    with pytest.raises(ValueError, match="class 1"):
        balanced_weights(np.zeros(3))


@pytest.mark.torch
def test_mlp_keeps_its_best_epochs_and_stops_early() -> None:
    pytest.importorskip("torch")
    X, y = gaussian_blobs(2000)
    clf = TorchMLP(
        hidden=(8,), max_epochs=60, patience=2, n_best_epochs=3, learning_rate=0.05, seed=0
    ).fit(X, y)
    (history,) = clf.history_
    assert len(history["val_loss"]) < 60, "early stopping never triggered"
    assert len(clf.members_[0]) == 3
    best = min(history["val_loss"])
    assert history["val_loss"].index(best) >= len(history["val_loss"]) - 1 - 2


def test_refuses_bad_training_input() -> None:
    X, y = gaussian_blobs(100)
    clf = make_classifier("hgb", {}, seed=0)
    with pytest.raises(ValueError, match="both classes"):
        clf.fit(X, np.zeros(100))
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(X_nan, y)
    with pytest.raises(RuntimeError, match="before fit"):
        make_classifier("hgb", {}, seed=0).predict(X)


@pytest.mark.parametrize(
    ("name", "options", "named"),
    [
        ("forest", {}, "forest"),
        ("hgb", {"max_iterations": 10}, "max_iterations"),
        ("hgb", {"n_models": 0}, "n_models"),
        ("hgb", {"validation_fraction": 1.5}, "validation_fraction"),
        ("mlp", {"hidden": [64, -1]}, "hidden"),
        ("mlp", {"lr": 0.1}, "lr"),
    ],
)
def test_bad_names_and_options_are_config_errors(
    name: str, options: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        make_classifier(name, options, seed=0)


def test_defaults_follow_the_references() -> None:
    hgb = classifier_defaults("hgb")
    # Finke et al. (arXiv:2309.13111) and BENCHMARK.md, with patient early stopping
    assert (hgb["max_iter"], hgb["max_leaf_nodes"]) == (200, 31)
    assert (hgb["validation_fraction"], hgb["n_iter_no_change"]) == (0.2, 30)
    assert hgb["balanced"] is True
    assert classifier_defaults("mlp")["hidden"] == (64, 64, 64)
    assert set(CLASSIFIERS) == {"hgb", "mlp"}


def test_jet_combinations_order_the_far_tail_by_the_pairs_efficiency() -> None:
    q = np.array([[0.5, 0.5], [0.99, 0.999], [0.999, 0.99], [0.9999, 0.9], [1.0, 1.0]])
    np.testing.assert_allclose(combine_jet_quantiles(q, "max"), q.max(axis=1))
    np.testing.assert_allclose(combine_jet_quantiles(q, "product"), q[:, 0] * q[:, 1])
    fisher = combine_jet_quantiles(q, "fisher")
    # symmetric in the jets; -log of the pair's tail probability
    assert fisher[1] == pytest.approx(fisher[2])
    assert fisher[1] == pytest.approx(-np.log(0.01 * 0.001))
    # (0.9999, 0.9) has tail 1e-5, as (0.99, 0.999): tied by Fisher, not by the product
    assert fisher[3] == pytest.approx(fisher[1])
    assert combine_jet_quantiles(q, "product")[3] < combine_jet_quantiles(q, "product")[1]
    # both jets at the top quantile: finite
    assert np.isfinite(fisher[4]) and fisher[4] == fisher.max()
    with pytest.raises(ValueError, match="mean"):
        combine_jet_quantiles(q, "mean")
