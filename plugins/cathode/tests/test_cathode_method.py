"""CATHODE on toy events: it finds a strong signal, invents none, and its flow is sane."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from casehunt.errors import ConfigError, RegionError
from casehunt.events import EventTable
from casehunt.kfold import train_folds
from casehunt.methods import TrainingData
from casehunt.regions import SignalRegion
from casehunt.testing import toy_sample
from casehunt.variants import correlate, noise_values
from casehunt_cathode import CATHODE
from casehunt_cathode import flow as flow_module
from casehunt_cathode.flow import ConditionalFlow, FlowConfig
from casehunt_cathode.method import kde_sample
from casehunt_cathode.preprocessing import LogitScaler, LogStandardScaler

REGION = SignalRegion(3300.0, 3700.0, 2900.0, 4300.0)


def max_sic(s_sig: np.ndarray, s_bkg: np.ndarray, min_bkg: int = 25) -> float:
    sb, ss = np.sort(s_bkg), np.sort(s_sig)
    thresholds = sb[: len(sb) - min_bkg + 1]
    eps_b = (len(sb) - np.searchsorted(sb, thresholds)) / len(sb)
    eps_s = (len(ss) - np.searchsorted(ss, thresholds)) / len(ss)
    return float(np.max(eps_s / np.sqrt(eps_b)))


def region_data(events: EventTable, region: SignalRegion = REGION) -> TrainingData:
    return TrainingData.for_region(events.take(region.in_region(np.asarray(events["mjj"]))), region)


@pytest.fixture(scope="module")
def background() -> EventTable:
    events, _ = toy_sample(30_000, 0, seed=11)
    return events


@pytest.fixture(scope="module")
def test_signal() -> EventTable:
    events, _ = toy_sample(0, 2_000, seed=12)
    return events.take(REGION.in_signal_region(np.asarray(events["mjj"])))


def test_separates_an_injected_signal(fast: dict[str, Any], test_signal: EventTable) -> None:
    events, labels = toy_sample(30_000, 400, seed=13)
    m = np.asarray(events["mjj"])
    folded = train_folds(CATHODE, {**fast, "flow_epochs": 4}, events, REGION, n_folds=2, seed=1)
    sr = REGION.in_signal_region(m)
    s_bkg = folded.scores[sr & (labels == 0)]
    s_sig_data = folded.scores[sr & (labels == 1)]
    assert s_sig_data.mean() > s_bkg.mean() + 0.1
    sic = max_sic(folded.score_unseen(test_signal), s_bkg)
    assert sic > 3.0, f"max SIC {sic:.2f} on a strong toy signal"


def test_no_fake_improvement_on_background_only(
    fast: dict[str, Any], background: EventTable, test_signal: EventTable
) -> None:
    m = np.asarray(background["mjj"])
    folded = train_folds(CATHODE, {**fast, "flow_epochs": 4}, background, REGION, n_folds=2, seed=1)
    s_bkg = folded.scores[REGION.in_signal_region(m)]
    sic = max_sic(folded.score_unseen(test_signal), s_bkg)
    # nothing to learn: a selection should pass signal about as often as background
    assert sic < 2.0, f"max SIC {sic:.2f} without any signal in the data"


@pytest.mark.parametrize("flow_type", ["nsf", "maf"])
def test_flow_samples_reproduce_the_sidebands(
    fast: dict[str, Any], background: EventTable, flow_type: str
) -> None:
    data = region_data(background)
    options = {"flow_type": flow_type, "flow_transforms": 4, "flow_hidden": [64, 64]}
    options.update(flow_batch_size=512, flow_learning_rate=1e-3)
    method = CATHODE({**fast, **options, "flow_epochs": 15, "flow_n_best_epochs": 3}, seed=2)
    method.fit(data)
    sb = data.events.take(data.in_sideband)
    x = method.feature_set.event_matrix(sb)
    samples = method.sample_features(np.asarray(sb["mjj"], dtype=np.float64), seed=5)
    assert samples.shape == x.shape
    assert np.all(np.isfinite(samples))
    # each feature's mean within 10% of its spread, spread within 30% (the toy's jet masses
    # are clipped at 5 GeV: a spike a smooth flow only approximates)
    std = x.std(axis=0)
    np.testing.assert_array_less(np.abs(samples.mean(axis=0) - x.mean(axis=0)), 0.1 * std)
    np.testing.assert_array_less(np.abs(samples.std(axis=0) / std - 1), 0.3)
    np.testing.assert_allclose(np.median(samples, axis=0), np.median(x, axis=0), rtol=0.15)
    # inside the range the flow was trained on
    assert np.all(samples >= x.min(axis=0) - 1e-9)
    assert np.all(samples <= x.max(axis=0) + 1e-9)
    # the best epochs are kept, best first
    losses = [loss for loss, _, _ in method.flow_.best_]
    assert len(losses) == 3
    assert losses == sorted(losses)


def test_noise_features_and_correlated_masses_run(
    fast: dict[str, Any], background: EventTable
) -> None:
    data = region_data(background)
    method = CATHODE({**fast, "noise_features": 3, "correlate_masses": True}, seed=0)
    method.fit(data)
    assert method.flow_.n_features_ == 4 + 3
    s = method.score(background)
    assert s.shape == (background.n_events,)
    assert np.all(np.isfinite(s))
    assert method.required_columns() == frozenset(method.feature_set.columns) | {"mjj"}


def test_fit_summary_names_the_kept_features(fast: dict[str, Any]) -> None:
    events, _ = toy_sample(30_000, 400, seed=13)
    data = region_data(events)
    plain = CATHODE({**fast, "noise_features": 2}, seed=0)
    assert plain.fit_summary() == {}
    plain.fit(data)
    summary = plain.fit_summary()
    names = [*plain.feature_set.columns, "noise_0", "noise_1"]
    assert summary["features"] == names
    assert summary["signal_region_events"] == int(data.in_signal_region.sum())
    assert summary["template_events"] == 4 * summary["signal_region_events"]  # oversampling
    assert len(summary["flow_epochs"]) == fast["flow_n_best_epochs"]
    json.dumps(summary, allow_nan=False)

    screen = {"feature_screen": "positive", "screen_rounds": 2}
    screened = CATHODE({**fast, "noise_features": 2, "classifier_options": screen}, seed=0)
    screened.fit(data)
    kept = screened.fit_summary()["features"]
    assert kept == [name for name in names if name in kept]  # a subset, in input order
    assert set(kept) & set(plain.feature_set.columns), kept  # the strong signal's features
    assert screened.score(events).shape == (events.n_events,)
    rounds = screened.fit_summary()["screen"]
    assert len(rounds) == 2 and rounds[0]["features"] == names
    assert rounds[1]["features"] == [name for name in names if name in rounds[1]["features"]]


def test_the_sideband_reference_is_held_out_sideband_data_against_samples(
    fast: dict[str, Any],
) -> None:
    events, _ = toy_sample(30_000, 400, seed=13)
    data = region_data(events)
    screen = {"feature_screen": "positive", "screen_repeats": 2}
    options = {**fast, "noise_features": 2, "classifier_options": screen}
    method = CATHODE({**options, "screen_reference": "sidebands"}, seed=0)
    method.fit(data)
    held = method.flow_.valid_index_
    n_sb = int(data.in_sideband.sum())
    assert len(held) == round(0.2 * n_sb) and len(np.unique(held)) == len(held)
    _, y = method._sideband_reference(
        method._features(data.events.take(data.in_sideband))[held],
        np.asarray(data.events["mjj"])[data.in_sideband][held],
        seed=4,
    )
    assert (y == 1).sum() == len(held) and (y == 0).sum() == 4 * len(held)
    summary = method.fit_summary()
    (r,) = summary["screen"]
    assert r["features"] == method.feature_names and len(r["reference"]) == 6
    # the toy's signal lies in the jet masses: they matter more in the signal region than
    # in the reference, which has no signal (only the tiny flow's mismodelling)
    for j in (0, 1):  # mj2, delta_mj
        excess = r["importance"][j] - r["reference"][j]
        assert excess > 3 * np.hypot(r["error"][j], r["reference_error"][j]), r
    assert {"mj2", "delta_mj"} <= set(summary["features"])
    assert method.score(events).shape == (events.n_events,)


def test_empty_sidebands_are_an_error(fast: dict[str, Any], background: EventTable) -> None:
    region = SignalRegion(3300.0, 3700.0, 3300.0, 3700.0)
    with pytest.raises(RegionError, match="sideband"):
        CATHODE(fast).fit(region_data(background, region))


def test_noise_is_a_function_of_the_event() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(20_000, 5))
    noise = noise_values(values, 4, seed=0)
    order = rng.permutation(len(values))
    np.testing.assert_array_equal(noise_values(values[order], 4, seed=0), noise[order])
    assert not np.allclose(noise_values(values, 4, seed=1), noise)
    # standard normal and uncorrelated, with the features and with each other
    np.testing.assert_allclose(noise.mean(axis=0), 0.0, atol=0.04)
    np.testing.assert_allclose(noise.std(axis=0), 1.0, atol=0.03)
    corr = np.corrcoef(np.hstack([values, noise]), rowvar=False)
    np.testing.assert_allclose(corr[np.triu_indices(9, 1)], 0.0, atol=0.04)


def test_correlate_shifts_jet_masses_only() -> None:
    x = np.array([[50.0, 20.0, 0.5, 0.4]])
    out = correlate(x, ("mj2", "delta_mj", "tau21_j2", "tau21_j1"), np.array([3000.0]), 0.1)
    np.testing.assert_allclose(out, [[350.0, 20.0, 0.5, 0.4]])


def test_kde_samples_stay_in_the_window() -> None:
    m = np.random.default_rng(0).uniform(3300.0, 3700.0, 5_000)
    s = kde_sample(m, 20_000, 3300.0, 3700.0, seed=1)
    assert np.all((s >= 3300.0) & (s < 3700.0))
    # reflection keeps a flat spectrum flat up to the edges
    counts, _ = np.histogram(s, bins=8, range=(3300.0, 3700.0))
    assert counts.min() > 0.85 * counts.mean()


def test_samples_do_not_depend_on_the_pass_size(monkeypatch: pytest.MonkeyPatch) -> None:
    # the pass size (flow.CHUNK) is a memory setting only: every event's sample is a
    # function of its own base noise and condition, and the best epochs are the same
    rng = np.random.default_rng(0)
    z, c = rng.standard_normal((2_000, 5)), rng.uniform(-1.0, 1.0, 2_000)
    condition = rng.uniform(-1.0, 1.0, 1_500)
    runs = []
    for pass_size in (300, 100_000):
        monkeypatch.setattr(flow_module, "CHUNK", pass_size)
        config = FlowConfig(kind="nsf", epochs=2, n_best_epochs=2, batch_size=256)
        flow = ConditionalFlow(config, seed=4).fit(z, c)
        runs.append((flow.history_["valid_loss"], flow.sample(condition, seed=5)))
    (loss_small, x_small), (loss_one, x_one) = runs
    np.testing.assert_allclose(loss_small, loss_one, rtol=1e-5)
    np.testing.assert_allclose(x_small, x_one, rtol=1e-5, atol=1e-6)
    assert x_small.shape == (1_500, 5) and np.all(np.isfinite(x_small))


def test_preprocessing_inverts() -> None:
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.exponential(50.0, 5_000), rng.beta(6, 4, 5_000), np.ones(5_000)])
    scaler = LogitScaler.fit(x)
    z = scaler.transform(x)
    assert np.all(np.isfinite(z))
    np.testing.assert_allclose(z[:, :2].mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(scaler.inverse(z), x, rtol=1e-6, atol=1e-6)
    cond = LogStandardScaler.fit(np.array([2000.0, 3000.0, 4000.0]))
    assert abs(cond.transform(np.array([3000.0]))[0]) < 0.2


def test_device_auto_falls_back_to_cpu() -> None:
    torch = pytest.importorskip("torch")
    method = CATHODE({"device": "auto"})
    assert method._device() == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"features": "case_jet"}, "features"),
        ({"features": ["mj2", 3]}, "features"),
        ({"flow_transforms": 0}, "flow_transforms"),
        ({"flow_hidden": [64, -1]}, "flow_hidden"),
        ({"flow_epochs": 2, "flow_n_best_epochs": 5}, "flow_n_best_epochs"),
        ({"flow_validation_fraction": 1.5}, "flow_validation_fraction"),
        ({"flow_learning_rate": -1e-3}, "flow_learning_rate"),
        ({"flow_max_events": 0}, "flow_max_events"),
        ({"oversampling": 0}, "oversampling"),
        ({"kde_bandwidth": "wide"}, "kde_bandwidth"),
        ({"noise_features": -1}, "noise_features"),
        ({"correlate_masses": "yes"}, "correlate_masses"),
        ({"features": ["tau21_j1"], "correlate_masses": True}, "correlate_masses"),
        ({"classifier": "svm"}, "classifier"),
        ({"classifier_options": {"max_iter": 0}}, "classifier_options"),
        ({"classifier_options": {"n_models": 2}}, "n_models"),
        ({"n_models": 0}, "n_models"),
        ({"threads": 0}, "threads"),
        ({"device": ""}, "device"),
        ({"progress": "no"}, "progress"),
        ({"flow_epochs": True}, "flow_epochs"),
        ({"screen_reference": "data"}, "screen_reference"),
        ({"screen_reference": "sidebands"}, "screen_reference"),  # no feature screen
    ],
)
def test_bad_options_name_the_option(options: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        CATHODE(options, seed=0)


def test_mlp_classifier_follows_device_and_progress() -> None:
    method = CATHODE({"classifier": "mlp", "device": "cpu"})
    name, args = method._classifier_args
    assert name == "mlp"
    assert args["device"] == "cpu"
    assert args["progress"] is False


@pytest.mark.slow
def test_default_options_on_a_larger_toy() -> None:
    """The default configuration, wide sidebands, a modest signal: a clear improvement."""
    region = SignalRegion(3300.0, 3700.0, 0.0, np.inf)
    events, labels = toy_sample(100_000, 300, seed=21)
    m = np.asarray(events["mjj"])
    folded = train_folds(CATHODE, {"device": "cpu"}, events, region, n_folds=5, seed=3)
    signal, _ = toy_sample(0, 5_000, seed=22)
    signal = signal.take(region.in_signal_region(np.asarray(signal["mjj"])))
    s_bkg = folded.scores[region.in_signal_region(m) & (labels == 0)]
    assert max_sic(folded.score_unseen(signal), s_bkg) > 5.0
