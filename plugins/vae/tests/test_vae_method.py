"""VAE-QR on toy events: it scores signal above background, and its selection is flat."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from vae_toys import FAST_CONSTITUENTS, FAST_FEATURES, auc, selected_fractions, wide_background

from casehunt.errors import ConfigError
from casehunt.events import EventTable
from casehunt.methods import TrainingData
from casehunt.plugins import get_registry
from casehunt.testing import toy_sample
from casehunt_vae import VAEQR
from casehunt_vae.hooks import casehunt_register_methods
from casehunt_vae.method import relative_constituents


def fitted(events: EventTable, options: dict[str, Any], seed: int = 0) -> VAEQR:
    method = VAEQR(options, seed=seed)
    method.fit(TrainingData.for_region(events, None))
    return method


def test_constituent_vae_scores_signal_above_background(
    constituent_sample: tuple[EventTable, np.ndarray],
    constituent_test: tuple[EventTable, np.ndarray],
) -> None:
    # trained on unlabelled events (5% toy signal: two narrow prongs per jet); scored on
    # a fresh sample. Measured: raw AUC 0.88, calibrated 0.83 (random: 0.5).
    events, _ = constituent_sample
    method = fitted(events, {**FAST_CONSTITUENTS, "epochs": 6})
    test, labels = constituent_test
    raw_auc = auc(method.raw_scores(test), labels)
    assert raw_auc > 0.75, f"raw AUC {raw_auc:.3f}"
    assert auc(method.score(test), labels) > 0.7


def test_feature_vae_scores_signal_above_background() -> None:
    events, _ = toy_sample(10_000, 300, seed=31)
    method = fitted(events, {**FAST_FEATURES, "epochs": 6})
    test, labels = toy_sample(4_000, 1_000, seed=32)
    raw_auc = auc(method.raw_scores(test), labels)
    # measured 0.96: the toy signal's jets are two-prong (low tau21), with more constituents
    assert raw_auc > 0.8, f"raw AUC {raw_auc:.3f}"


def test_selection_is_flat_in_mjj_where_the_raw_score_is_not() -> None:
    # Background only, 2.5-7 TeV: toy jet masses grow with mjj, so the raw score does too
    # (most with the mass among few features). Events above level 1 - eps must be a
    # fraction eps in every mjj bin. Measured: calibrated 0.098-0.105, raw 0.064-0.145.
    events = wide_background(60_000, seed=1)
    options = {**FAST_FEATURES, "features": ["jet_msd", "jet_tau21"], "epochs": 4}
    method = fitted(events, {**options, "validation_fraction": 0.5})
    test = wide_background(60_000, seed=2)
    mjj = np.asarray(test["mjj"])
    raw, level = method.raw_scores(test), method.score(test)
    eps, n_bins = 0.1, 4
    calibrated = selected_fractions(level, mjj, 1 - eps, n_bins)
    plain = selected_fractions(raw, mjj, float(np.quantile(raw, 1 - eps)), n_bins)
    # 15k events per bin (count error 2.4%) and 30k events in the quantile fit
    assert np.all(np.abs(calibrated / eps - 1) < 0.12), calibrated
    # the same check on the raw score fails: the test can tell
    assert np.max(np.abs(plain / eps - 1)) > 0.3, plain
    # the looser 80% selection as well
    assert np.all(np.abs(selected_fractions(level, mjj, 0.8, n_bins) / 0.2 - 1) < 0.1)


@pytest.mark.parametrize(
    ("event_score", "combine"), [("min", np.min), ("max", np.max), ("sum", np.sum)]
)
def test_event_score_combines_the_jets_and_is_symmetric(
    constituent_sample: tuple[EventTable, np.ndarray], event_score: str, combine: Any
) -> None:
    events, _ = constituent_sample
    events = events.take(np.arange(3000))
    options = {**FAST_CONSTITUENTS, "epochs": 1, "qr_quantiles": [0.5, 0.9]}
    method = fitted(events, {**options, "event_score": event_score})
    assert method.vae_ is not None
    jets = method.vae_.score(method.jet_inputs(events).reshape(2 * events.n_events, -1))
    expected = combine(jets.reshape(-1, 2), axis=1)
    np.testing.assert_allclose(method.raw_scores(events), expected, rtol=1e-6)
    # jets swapped within each event: the same scores
    swapped = events.with_columns(
        **{c: events[c][:, ::-1] for c in ("jet_const", "jet_pt", "jet_eta", "jet_phi")}
    )
    np.testing.assert_allclose(method.score(swapped), method.score(events), rtol=1e-6)


def test_relative_constituents_wrap_phi_and_keep_padding_zero() -> None:
    padded = np.zeros((1, 2, 3, 3), dtype=np.float32)
    padded[0, 0, 0] = (300.0, 1.1, 3.1)
    padded[0, 0, 1] = (100.0, 0.9, -3.1)
    padded[0, 1, 0] = (200.0, -0.5, 0.2)
    rel = relative_constituents(
        padded, np.array([[500.0, 400.0]]), np.array([[1.0, -0.5]]), np.array([[3.0, 0.0]])
    )
    np.testing.assert_allclose(rel[0, 0, 0], (0.6, 0.1, 0.1), atol=1e-6)
    # -3.1 - 3.0 wraps to 2 pi - 6.1
    np.testing.assert_allclose(rel[0, 0, 1], (0.2, -0.1, 2 * np.pi - 6.1), atol=1e-5)
    np.testing.assert_allclose(rel[0, 1, 0], (0.5, 0.0, 0.2), atol=1e-6)
    assert np.all(rel[0, 0, 2] == 0) and np.all(rel[0, 1, 1:] == 0)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"inputz": "features"}, "inputz"),
        ({"inputs": "images"}, "inputs"),
        ({"event_score": "mean"}, "event_score"),
        ({"n_constituents": 0}, "n_constituents"),
        ({"features": "lhco"}, "features"),
        ({"features": "no_such_set"}, "features"),
        ({"features": 3}, "features"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"hidden": [64, -1]}, "hidden"),
        ({"hidden": []}, "hidden"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 1.5}, "batch_size"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"patience": -1}, "patience"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"beta": -0.5}, "beta"),
        ({"qr_quantiles": [0.9]}, "qr_quantiles"),
        ({"qr_quantiles": [0.5, 1.2]}, "qr_quantiles"),
        ({"qr_quantiles": "0.9"}, "qr_quantiles"),
        ({"qr_degree": -1}, "qr_degree"),
        ({"device": "tpu"}, "device"),
        ({"progress": "yes"}, "progress"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        VAEQR(options, seed=0)


def test_device_gpu_without_one_is_a_config_error() -> None:
    from casehunt_vae.vae import tensorflow

    if tensorflow().config.list_physical_devices("GPU"):
        pytest.skip("a GPU is present")
    events, _ = toy_sample(400, 0, seed=5)
    with pytest.raises(ConfigError, match="device"):
        fitted(events, {**FAST_FEATURES, "device": "gpu"})


def test_required_columns_follow_the_inputs() -> None:
    assert VAEQR().required_columns() == {"jet_const", "jet_pt", "jet_eta", "jet_phi", "mjj"}
    features = VAEQR({"inputs": "features"})
    assert features.required_columns() == {
        "jet_msd",
        "jet_tau21",
        "jet_tau32",
        "jet_tau43",
        "jet_nconst",
        "mjj",
    }
    listed = VAEQR({"inputs": "features", "features": ["jet_msd", "jet_tau21"]})
    assert listed.required_columns() == {"jet_msd", "jet_tau21", "mjj"}
    # architecture defaults per mode
    assert VAEQR().vae_config.hidden == (128, 64)
    assert features.vae_config.latent_dim == 2


def test_registered_through_the_plugin_manager() -> None:
    assert casehunt_register_methods() == [VAEQR]
    registry = get_registry(refresh=True)
    assert registry.method("vae_qr") is VAEQR
    assert registry.info[("method", "vae_qr")].distribution == "casehunt-vae"
