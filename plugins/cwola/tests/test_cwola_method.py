"""CWoLa hunting on toy events: it finds an injected resonance and invents none."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from cwola_toys import REGION

from casehunt.classifiers import quantile_knots
from casehunt.errors import ConfigError
from casehunt.events import EventTable
from casehunt.kfold import train_folds
from casehunt.methods import TrainingData
from casehunt.plugins import get_registry
from casehunt.selection import sideband_threshold
from casehunt_cwola import CWoLaHunting
from casehunt_cwola.hooks import casehunt_register_methods


def signal_efficiency_at(scores: np.ndarray, labels: np.ndarray, eps_b: float) -> float:
    """Signal efficiency at the threshold that keeps a fraction eps_b of the background."""
    threshold = np.quantile(scores[labels == 0], 1.0 - eps_b)
    return float(np.mean(scores[labels == 1] > threshold))


def folded_sr_scores(
    sample: tuple[EventTable, np.ndarray], options: dict[str, Any], seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Out-of-fold scores of all events, and scores and labels of the signal-region events."""
    events, labels = sample
    folded = train_folds(CWoLaHunting, options, events, REGION, n_folds=5, seed=seed)
    sr = REGION.in_signal_region(np.asarray(events["mjj"]))
    return folded.scores, folded.scores[sr], labels[sr]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"n_models": 2}, id="event-level"),
        pytest.param({"n_models": 1, "features": "case_jet"}, id="per-jet"),
    ],
)
def test_finds_injected_signal(
    with_signal: tuple[EventTable, np.ndarray], options: dict[str, Any]
) -> None:
    _, scores, labels = folded_sr_scores(with_signal, options)
    eps_b = 0.02
    eps_s = signal_efficiency_at(scores, labels, eps_b)
    sic = eps_s / np.sqrt(eps_b)
    assert sic > 3.0, f"SIC at 2% background efficiency is {sic:.2f}"


def test_no_fake_signal_without_one(background_only: tuple[EventTable, np.ndarray]) -> None:
    events, _ = background_only
    scores, _, _ = folded_sr_scores(background_only, {"n_models": 2})
    m = np.asarray(events["mjj"])
    sr = REGION.in_signal_region(m)
    # No signal: the signal region passes the sideband threshold at the asked rate (the
    # selection sculpts no bump), within 4 standard deviations.
    for eps in (0.1, 0.02):
        threshold = sideband_threshold(scores, m, REGION, eps)
        passed = int(np.sum(scores[sr] > threshold))
        expected = eps * sr.sum()
        assert abs(passed - expected) < 4 * np.sqrt(expected) + 1, (eps, passed, expected)


@pytest.mark.torch
def test_mlp_backend_finds_injected_signal(with_signal: tuple[EventTable, np.ndarray]) -> None:
    pytest.importorskip("torch")
    options = {
        "n_models": 1,
        "classifier": "mlp",
        "classifier_options": {"max_epochs": 15, "patience": 5, "batch_size": 512},
    }
    _, scores, labels = folded_sr_scores(with_signal, options)
    sic = signal_efficiency_at(scores, labels, 0.02) / np.sqrt(0.02)
    assert sic > 2.0, f"SIC at 2% background efficiency is {sic:.2f}"


def test_trains_signal_region_against_sidebands() -> None:
    # A feature that encodes the signal-region label: the score must follow it, high in
    # the signal region (label 1), low in the sidebands (label 0).
    n = 4000
    rng = np.random.default_rng(0)
    mjj = rng.uniform(REGION.sb_low, REGION.sb_high, n)
    in_sr = REGION.in_signal_region(mjj)
    x = in_sr + rng.normal(0, 0.01, n)
    events = EventTable({"mjj": mjj, "x": x, "noise": rng.normal(size=n)})
    method = CWoLaHunting({"features": ["x", "noise"], "n_models": 1}, seed=0)
    method.fit(TrainingData.for_region(events, REGION))
    scores = method.score(events)
    assert np.mean(scores[in_sr] > 0.5) > 0.99
    assert np.mean(scores[~in_sr] < 0.5) > 0.99


def test_per_jet_event_score_is_max_of_jet_quantiles(
    with_signal: tuple[EventTable, np.ndarray],
) -> None:
    events, _ = with_signal
    method = CWoLaHunting({"features": "case_jet", "n_models": 1}, seed=0)
    method.fit(TrainingData.for_region(events, REGION))
    scores = method.score(events)
    jet_scores = method.classifier_.predict(method._rows(events)).reshape(-1, 2)
    q = np.interp(jet_scores, *method.quantile_knots_)
    np.testing.assert_allclose(scores, q.max(axis=1))
    assert scores.min() >= 0.0
    assert scores.max() <= 1.0
    # jets swapped within events: the same event score
    swapped = events.with_columns(
        **{c: np.asarray(events[c])[:, ::-1] for c in events.columns if np.ndim(events[c]) == 2}
    )
    np.testing.assert_allclose(method.score(swapped), scores)
    product = CWoLaHunting({"features": "case_jet", "n_models": 1, "combine": "product"}, seed=0)
    product.fit(TrainingData.for_region(events, REGION))
    np.testing.assert_allclose(product.score(events), q.prod(axis=1))
    fisher = CWoLaHunting({"features": "case_jet", "n_models": 1, "combine": "fisher"}, seed=0)
    fisher.fit(TrainingData.for_region(events, REGION))
    np.testing.assert_allclose(fisher.score(events), -np.log((1 - q[:, 0]) * (1 - q[:, 1])))


def test_quantile_knots_strictly_increasing_and_keep_order_beyond_training() -> None:
    train = np.array([0.2, 0.2, 0.3, 0.5, 0.7])
    x, q = quantile_knots(train)
    assert np.all(np.diff(x) > 0) and np.all(np.diff(q) > 0)
    assert q[0] == 0.0 and q[-1] == 1.0
    out = np.interp([0.05, 0.1, 0.8, 0.9], x, q)
    assert np.all(np.diff(out) > 0), "unseen scores beyond the training range must not tie"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"featurez": "lhco"}, "featurez"),
        ({"features": "no_such_set"}, "features"),
        ({"features": 3}, "features"),
        ({"classifier": "svm"}, "classifier"),
        ({"n_models": 0}, "n_models"),
        ({"classifier_options": {"max_iterz": 3}}, "max_iterz"),
        ({"classifier_options": {"max_iter": -1}}, "max_iter"),
        ({"classifier_options": {"n_models": 2}}, "n_models"),
        ({"classifier_options": "fast"}, "classifier_options"),
        ({"features": "lhco", "per_jet": True}, "per_jet"),
        ({"combine": "mean"}, "combine"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        CWoLaHunting(options, seed=0)


def test_required_columns_follow_the_features() -> None:
    assert CWoLaHunting().required_columns() == {"mj2", "delta_mj", "tau21_j2", "tau21_j1"}
    per_jet = CWoLaHunting({"features": "case_jet"})
    assert "jet_tau21" in per_jet.required_columns()
    assert per_jet.feature_set.per_jet
    listed = CWoLaHunting({"features": ["jet_msd", "jet_tau21"], "per_jet": True})
    assert listed.feature_set.per_jet
    assert listed.required_columns() == {"jet_msd", "jet_tau21"}


def test_registered_through_the_plugin_manager() -> None:
    assert casehunt_register_methods() == [CWoLaHunting]
    assert get_registry(refresh=True).method("cwola") is CWoLaHunting
