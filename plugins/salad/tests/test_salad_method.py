"""SALAD on toy events: it closes in the sidebands, finds an injected signal, invents none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from salad_toys import FAST, MISMODELLING, REGION, region_sample, toy_simulation

from casehunt.errors import ConfigError, InputError
from casehunt.events import EventTable
from casehunt.kfold import train_folds
from casehunt.methods import TrainingData
from casehunt.plugins import get_registry
from casehunt.selection import sideband_threshold
from casehunt.toys import write_toy_file
from casehunt_salad import SALAD
from casehunt_salad.closure import closure_chi2
from casehunt_salad.simulation import clear_cache

FEATURES = ("mj2", "delta_mj", "tau21_j2", "tau21_j1")


def test_registered_with_casehunt() -> None:
    assert get_registry().method("salad") is SALAD


@pytest.fixture(scope="module")
def reweighted(background_only: tuple[EventTable, np.ndarray], simulation: EventTable) -> SALAD:
    """SALAD fitted once on background-only toy data and the mismodelled toy simulation."""
    events, _ = background_only
    method = SALAD({"n_models": 2, "simulation": simulation}, seed=1)
    method.fit(TrainingData.for_region(events, REGION))
    return method


def closure(method: SALAD, part: str, seed: int) -> dict[str, tuple[float, float]]:
    """chi2/ndf (unweighted, reweighted) of independent data and simulation in `part`.

    Checked on samples the classifiers never saw, so closure is not memory of training
    events: each feature and the reweighting classifier's output f(x, m).
    """
    data, _ = region_sample(60_000, 0, seed=seed)
    sim = toy_simulation(120_000, seed=seed + 1)
    data = data.take(getattr(REGION, part)(np.asarray(data["mjj"])))
    sim = sim.take(getattr(REGION, part)(np.asarray(sim["mjj"])))
    w = method.simulation_weights(sim)
    observables = {c: (np.asarray(data[c]), np.asarray(sim[c])) for c in FEATURES}
    observables["f(x, m)"] = (method.reweighting_output(data), method.reweighting_output(sim))
    return {k: (closure_chi2(d, s), closure_chi2(d, s, w)) for k, (d, s) in observables.items()}


def test_reweighting_closes_in_the_sidebands(reweighted: SALAD) -> None:
    chi2 = closure(reweighted, "in_sideband", seed=24)
    for name, (before, after) in chi2.items():
        # 19 degrees of freedom: statistics alone give chi2/ndf 1 +- 0.3 (> 2.5: p < 1e-3)
        assert after < 2.5, f"{name}: chi2/ndf {after:.2f} after reweighting"
        assert before > 2.5 and after < before, f"{name}: chi2/ndf {before:.2f} -> {after:.2f}"
    # the mismodelling is mostly gone: summed over the observables, chi2 falls 4-fold
    before, after = (sum(v) for v in zip(*chi2.values(), strict=True))
    assert after < before / 4, f"summed chi2/ndf {before:.2f} -> {after:.2f}"


def test_reweighting_interpolates_into_the_signal_region(reweighted: SALAD) -> None:
    """f(x, m) was trained in the sidebands only; the signal region closes as well."""
    for name, (before, after) in closure(reweighted, "in_signal_region", seed=26).items():
        assert after < 2.5, f"{name}: chi2/ndf {after:.2f} in the signal region"
        assert after < before, f"{name}: chi2/ndf {before:.2f} -> {after:.2f}"


def test_finds_injected_signal(
    with_signal: tuple[EventTable, np.ndarray], simulation: EventTable
) -> None:
    events, labels = with_signal
    options = {**FAST, "simulation": simulation}
    folded = train_folds(SALAD, options, events, REGION, n_folds=3, seed=0)
    sr = REGION.in_signal_region(np.asarray(events["mjj"]))
    scores, truth = folded.scores[sr], labels[sr]
    eps_b = 0.02
    threshold = np.quantile(scores[truth == 0], 1.0 - eps_b)
    sic = np.mean(scores[truth == 1] > threshold) / np.sqrt(eps_b)
    assert sic > 3.0, f"SIC at 2% background efficiency is {sic:.2f}"


def test_no_fake_signal_without_one(
    background_only: tuple[EventTable, np.ndarray], simulation: EventTable
) -> None:
    events, _ = background_only
    options = {**FAST, "simulation": simulation}
    folded = train_folds(SALAD, options, events, REGION, n_folds=3, seed=0)
    m = np.asarray(events["mjj"])
    sr = REGION.in_signal_region(m)
    # No signal: the signal region passes the sideband threshold at the asked rate (the
    # selection sculpts no bump out of the leftover data-simulation differences)
    for eps in (0.1, 0.02):
        threshold = sideband_threshold(folded.scores, m, REGION, eps)
        passed = int(np.sum(folded.scores[sr] > threshold))
        expected = eps * sr.sum()
        assert abs(passed - expected) < 4 * np.sqrt(expected) + 1, (eps, passed, expected)


def test_reads_a_simulation_file_with_the_preselection(tmp_path: Path) -> None:
    path = write_toy_file(tmp_path / "sim.h5", 5_000, seed=4, **MISMODELLING)
    clear_cache()
    raw = SALAD({"simulation": str(path), "simulation_preselection": False}).simulation()
    sim = SALAD({"simulation": str(path), "simulation_max_events": 1_000}).simulation()
    assert raw.n_events == 5_000
    assert set(FEATURES) <= set(raw.columns)  # every plugin's derived columns
    # toy jets reach |delta-eta| 1.5, CASE keeps < 1.3; then the fixed random subset
    assert sim.n_events == 1_000
    assert np.all(np.abs(np.asarray(sim["delta_eta"])) < 1.3)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({}, "option 'simulation' is required"),
        ({"simulation": 3}, "must be a file path or an EventTable"),
        ({"simulation": "s.h5", "features": "case_jet"}, "per-jet set"),
        ({"simulation": "s.h5", "max_weight": 0}, "'max_weight' must be a positive number"),
        ({"simulation": "s.h5", "simulation_max_events": 0}, "'simulation_max_events'"),
        ({"simulation": "s.h5", "simulation_preselection": "yes"}, "true or false"),
        ({"simulation": "s.h5", "classifier": "svm"}, "'classifier' must be one of"),
        ({"simulation": "s.h5", "simulation_file": "s.h5"}, "'simulation_file'"),
        (
            {"simulation": "s.h5", "reweighting_classifier_options": {"max_depht": 3}},
            "'reweighting_classifier_options'.*'max_depht'",
        ),
    ],
)
def test_option_errors_name_the_option(options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SALAD(options)


def test_a_missing_simulation_file_is_named(tmp_path: Path) -> None:
    events, _ = region_sample(5_000, 0, seed=3)
    method = SALAD({"simulation": str(tmp_path / "nope.h5")})
    with pytest.raises(InputError, match=r"nope\.h5.*no such file"):
        method.fit(TrainingData.for_region(events, REGION))
