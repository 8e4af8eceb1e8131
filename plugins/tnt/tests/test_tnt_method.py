"""Tag N' Train on toy events: it finds an injected resonance and invents none."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from tnt_toys import FAST, REGION, region_sample

from casehunt.errors import ConfigError, RegionError
from casehunt.events import EventTable
from casehunt.kfold import train_folds
from casehunt.methods import TrainingData
from casehunt.plugins import get_registry
from casehunt.selection import sideband_threshold
from casehunt_tnt import TagNTrain
from casehunt_tnt.hooks import casehunt_register_methods


def sic_at(scores: np.ndarray, labels: np.ndarray, eps_b: float) -> float:
    """eps_S / sqrt(eps_B) at the threshold that keeps a fraction eps_b of the background."""
    threshold = np.quantile(scores[labels == 0], 1.0 - eps_b)
    return float(np.mean(scores[labels == 1] > threshold) / np.sqrt(eps_b))


def folded(sample: tuple[EventTable, np.ndarray], options: dict[str, Any]) -> np.ndarray:
    events, _ = sample
    return train_folds(TagNTrain, options, events, REGION, n_folds=3, seed=0).scores


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="tnt"),
        pytest.param(
            {"shared_classifier": False, "iterations": 2, "combine": "fisher"},
            id="per-jet-iterated-fisher",
        ),
    ],
)
def test_finds_injected_signal(
    with_signal: tuple[EventTable, np.ndarray], options: dict[str, Any]
) -> None:
    events, labels = with_signal
    scores = folded(with_signal, {**FAST, **options})
    sr = REGION.in_signal_region(np.asarray(events["mjj"]))
    auc = roc_auc_score(labels[sr], scores[sr])
    sic = sic_at(scores[sr], labels[sr], 0.02)
    # measured on these toys: AUC 0.96-0.99, SIC 6.3-6.5; random scores give AUC 0.5 and
    # SIC 0.14, and random tags instead of the autoencoder's (a CWoLa on a random fifth of
    # the signal region) AUC 0.77 and SIC 1.9
    assert auc > 0.85, f"AUC {auc:.3f}"
    assert sic > 3.5, f"SIC at 2% background efficiency {sic:.2f}"


def test_no_fake_signal_without_one(background_only: tuple[EventTable, np.ndarray]) -> None:
    events, _ = background_only
    scores = folded(background_only, dict(FAST))
    m = np.asarray(events["mjj"])
    sr, sb = REGION.in_signal_region(m), REGION.in_sideband(m)
    # the scores do not tell signal-region from sideband events (no learned bump) ...
    auc = roc_auc_score(sr[sr | sb], scores[sr | sb])
    assert abs(auc - 0.5) < 0.03, f"signal region against sidebands: AUC {auc:.3f}"
    # ... and the sideband threshold passes the signal region at the asked rate
    for eps in (0.1, 0.02):
        threshold = sideband_threshold(scores, m, REGION, eps)
        passed = int(np.sum(scores[sr] > threshold))
        expected = eps * sr.sum()
        assert abs(passed - expected) < 4 * np.sqrt(expected) + 1, (eps, passed, expected)


def test_event_score_is_product_of_jet_quantiles(
    with_signal: tuple[EventTable, np.ndarray],
) -> None:
    events, _ = with_signal
    method = TagNTrain(FAST, seed=0)
    method.fit(TrainingData.for_region(events, REGION))
    scores = method.score(events)
    ((x, q),) = method.quantile_knots_
    assert np.all(np.diff(x) > 0) and np.all(np.diff(q) > 0)
    np.testing.assert_allclose(scores, np.prod(np.interp(method.jet_scores(events), x, q), axis=1))
    assert scores.min() >= 0.0 and scores.max() <= 1.0
    # the jets swapped in storage: mass ordering gives the same event score
    swapped = events.with_columns(
        **{c: np.asarray(events[c])[:, ::-1] for c in events.columns if np.ndim(events[c]) == 2}
    )
    np.testing.assert_array_equal(method.score(swapped), scores)
    # Fisher's combination: -log of the product of the jets' tail probabilities
    fisher = TagNTrain({**FAST, "combine": "fisher"}, seed=0)
    fisher.fit(TrainingData.for_region(events, REGION))
    ((x, q),) = fisher.quantile_knots_
    tail = 1.0 - np.interp(fisher.jet_scores(events), x, q)
    np.testing.assert_allclose(fisher.score(events), -np.log(tail).sum(axis=1))


def test_seeds_change_the_model(with_signal: tuple[EventTable, np.ndarray]) -> None:
    events, _ = with_signal
    data = TrainingData.for_region(events.take(np.arange(2000)), REGION)
    a, b = TagNTrain(FAST, seed=1), TagNTrain(FAST, seed=2)
    a.fit(data)
    b.fit(data)
    assert not np.array_equal(a.score(events), b.score(events))


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"jet_featurez": "case_jet"}, "jet_featurez"),
        ({"jet_features": "lhco"}, "jet_features"),
        ({"jet_features": "no_such_set"}, "jet_features"),
        ({"jet_features": []}, "jet_features"),
        ({"jet_features": 3}, "jet_features"),
        ({"order_by": 5}, "order_by"),
        ({"inputs": "images"}, "inputs"),
        ({"n_constituents": 0}, "n_constituents"),
        ({"ae_hidden": [16, -1]}, "ae_hidden"),
        ({"ae_hidden": "big"}, "ae_hidden"),
        ({"ae_latent": 0}, "ae_latent"),
        ({"ae_epochs": 1.5}, "ae_epochs"),
        ({"ae_batch_size": True}, "ae_batch_size"),
        ({"ae_learning_rate": -1e-3}, "ae_learning_rate"),
        ({"ae_patience": 0}, "ae_patience"),
        ({"ae_validation_fraction": 1.0}, "ae_validation_fraction"),
        ({"signal_rich_percentile": 100}, "signal_rich_percentile"),
        ({"background_rich_percentile": "50"}, "background_rich_percentile"),
        ({"signal_rich_percentile": 40}, "background_rich_percentile"),
        ({"shared_classifier": "yes"}, "shared_classifier"),
        ({"iterations": 0}, "iterations"),
        ({"combine": "max"}, "combine"),
        ({"classifier": "svm"}, "classifier"),
        ({"n_models": 0}, "n_models"),
        ({"classifier_options": {"max_iterz": 3}}, "max_iterz"),
        ({"classifier_options": "fast"}, "classifier_options"),
        ({"device": "tpu"}, "device"),
        ({"progress": 1}, "progress"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        TagNTrain(options, seed=0)


def test_required_columns_follow_the_options() -> None:
    assert TagNTrain().required_columns() == {
        "jet_msd",
        "jet_tau21",
        "jet_tau32",
        "jet_tau43",
        "jet_nconst",
    }
    listed = TagNTrain({"jet_features": ["jet_tau21"], "order_by": None})
    assert listed.required_columns() == {"jet_tau21"}
    const = TagNTrain({"inputs": "constituents"})
    assert {"jet_const", "jet_pt", "jet_eta", "jet_phi"} <= const.required_columns()


def test_too_few_tagged_jets_is_a_clear_error() -> None:
    events, _ = region_sample(3000, 0, seed=5)
    sr = REGION.in_signal_region(np.asarray(events["mjj"]))
    # a single signal-region event cannot give signal-rich jets for both roles
    keep = ~sr | (np.cumsum(sr) <= 2)
    method = TagNTrain({**FAST, "shared_classifier": False, "signal_rich_percentile": 99.9})
    with pytest.raises(RegionError, match="signal-rich"):
        method.fit(TrainingData.for_region(events.take(keep), REGION))


def test_registered_through_the_plugin_manager() -> None:
    assert casehunt_register_methods() == [TagNTrain]
    assert get_registry(refresh=True).method("tnt") is TagNTrain
