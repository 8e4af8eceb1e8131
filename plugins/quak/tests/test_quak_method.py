"""QUAK on toy events: it finds a signal its priors describe, invents none, and says why not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from quak_toys import auc, fast_options, max_sic

from casehunt.derived import derive_columns
from casehunt.errors import ConfigError, InputError, RegionError
from casehunt.events import EventTable
from casehunt.kfold import train_folds
from casehunt.methods import TrainingData
from casehunt.regions import SignalRegion
from casehunt.selection import sideband_threshold
from casehunt.testing import toy_sample
from casehunt.toys import make_toy_events
from casehunt.training import torch_threads
from casehunt_quak import QUAK, priors
from casehunt_quak.flow import DensityFlow, FlowConfig
from casehunt_quak.method import quadrant_score

REGION = SignalRegion(3300.0, 3700.0, 2900.0, 4300.0)


def in_sr(events: EventTable) -> EventTable:
    return events.take(REGION.in_signal_region(np.asarray(events["mjj"])))


def region_data(events: EventTable, region: SignalRegion = REGION) -> TrainingData:
    return TrainingData.for_region(events.take(region.in_region(np.asarray(events["mjj"]))), region)


@pytest.fixture(scope="module")
def training() -> EventTable:
    # S/sqrt(B) ~ 8 in the signal region; QUAK does not learn from it, but must not mind it
    events, _ = toy_sample(20_000, 400, seed=13)
    return events


@pytest.fixture(scope="module")
def test_background() -> EventTable:
    return in_sr(toy_sample(20_000, 0, seed=14)[0])


@pytest.fixture(scope="module")
def test_signal() -> EventTable:
    return in_sr(toy_sample(0, 1_500, seed=12)[0])


@pytest.fixture(scope="module")
def matching(training: EventTable, prior_files: dict[str, Path]) -> QUAK:
    method = QUAK(fast_options(priors=[str(prior_files["matching"])]), seed=1)
    method.fit(region_data(training))
    return method


def sic_and_auc(method: QUAK, sig: EventTable, bkg: EventTable) -> tuple[float, float]:
    s, b = method.score(sig), method.score(bkg)
    return max_sic(s, b), auc(s, b)


def test_matching_prior_finds_the_signal(
    matching: QUAK, test_signal: EventTable, test_background: EventTable
) -> None:
    sic, area = sic_and_auc(matching, test_signal, test_background)
    # a random score has SIC ~1 and AUC 0.5; the cap with >= 25 of ~1600 background is ~8
    assert area > 0.97, f"AUC {area:.3f}"
    assert sic > 5.0, f"max SIC {sic:.2f}"
    # better than QUAK without priors: the background loss alone
    lb_sig = matching.losses(test_signal)["background"]
    lb_bkg = matching.losses(test_background)["background"]
    assert sic > max_sic(lb_sig, lb_bkg) + 0.5
    assert area > auc(lb_sig, lb_bkg)


def test_llr_score_with_matching_prior(
    training: EventTable,
    prior_files: dict[str, Path],
    test_signal: EventTable,
    test_background: EventTable,
) -> None:
    method = QUAK(fast_options(priors=[str(prior_files["matching"])], score="llr"), seed=1)
    method.fit(region_data(training))
    sic, area = sic_and_auc(method, test_signal, test_background)
    assert area > 0.98
    assert sic > 5.0


@pytest.mark.parametrize("names", [["shifted"], ["shifted", "three_prong"]])
def test_wrong_priors_still_find_the_signal(
    training: EventTable,
    prior_files: dict[str, Path],
    test_signal: EventTable,
    test_background: EventTable,
    names: list[str],
) -> None:
    method = QUAK(fast_options(priors=[str(prior_files[n]) for n in names]), seed=1)
    method.fit(region_data(training))
    sic, area = sic_and_auc(method, test_signal, test_background)
    # the priors are 200 and 50 GeV off in the jet masses (and three-prong); the default
    # mass broadening makes them "two-prong jets of roughly these masses": SIC ~7.5 as
    # with the matching prior, where the sharp priors alone give ~2.3 (llr)
    assert area > 0.97, f"AUC {area:.3f}"
    assert sic > 5.0, f"max SIC {sic:.2f}"


def test_quadrant_with_sharp_wrong_priors_keeps_the_background_axis(
    training: EventTable,
    prior_files: dict[str, Path],
    test_signal: EventTable,
    test_background: EventTable,
) -> None:
    options = fast_options(
        priors=[str(prior_files["shifted"]), str(prior_files["three_prong"])],
        prior_broadening=None,
        score="quadrant",
        signal_axis="min",
    )
    method = QUAK(options, seed=1)
    method.fit(region_data(training))
    assert method.broad_flows_ == [] and len(method.prior_flows_) == 2
    sic, area = sic_and_auc(method, test_signal, test_background)
    # without broadening the log-likelihood ratio falls to AUC ~0.9 (0.42 with raw-mass
    # flows); the quadrant ranking keeps the background axis well above random
    assert area > 0.9, f"AUC {area:.3f}"
    assert sic > 2.0, f"max SIC {sic:.2f}"


def test_broadened_masses_keep_substructure(prior_files: dict[str, Path]) -> None:
    events = priors.read_prior(Path(prior_files["shifted"]), preselect=False)
    wide = priors.broaden_masses(events, 0.5, 3, seed=4)
    assert wide.n_events == 3 * events.n_events
    ratio = np.asarray(wide["jet_msd"]) / np.tile(np.asarray(events["jet_msd"]), (3, 1))
    assert np.all(ratio >= np.exp(-0.5) - 1e-12) and np.all(ratio <= np.exp(0.5) + 1e-12)
    assert np.std(np.log(ratio)) > 0.25, "each jet gets its own factor"
    # the derived columns are recomputed: mass order, masses and each jet's tau21
    assert np.all(np.asarray(wide["mj1"]) >= np.asarray(wide["mj2"]))
    np.testing.assert_allclose(wide["delta_mj"], np.asarray(wide["mj1"]) - wide["mj2"])
    np.testing.assert_array_equal(wide["jet_tau21"], np.tile(events["jet_tau21"], (3, 1)))
    heavy = np.argmax(np.asarray(wide["jet_msd"]), axis=1)
    tau21 = np.asarray(wide["jet_tau21"])[np.arange(wide.n_events), heavy]
    np.testing.assert_array_equal(wide["tau21_j1"], tau21)


def test_substructure_prior_features_find_a_signal_at_other_masses(
    training: EventTable,
    prior_files: dict[str, Path],
    test_signal: EventTable,
    test_background: EventTable,
) -> None:
    # the "shifted" prior is two-prong, but 200 GeV and 50 GeV off in the jet masses: on
    # the full features it gives max SIC ~2.3 (AUC ~0.92). With the signal axis on tau21
    # alone it encodes "two two-prong jets", and the background axis (masses included)
    # finds the bump: SIC ~6.4, as with the matching prior
    tau21 = ["tau21_j1", "tau21_j2"]
    options = fast_options(
        priors=[str(prior_files["shifted"])], prior_features=tau21, prior_broadening=None
    )
    method = QUAK(options, seed=1)
    method.fit(region_data(training))
    assert method.losses(test_background)["priors"].shape == (test_background.n_events, 1)
    assert method.prior_flows_[0].n_features_ == 2
    sic, area = sic_and_auc(method, test_signal, test_background)
    assert area > 0.97, f"AUC {area:.3f}"
    assert sic > 4.5, f"max SIC {sic:.2f}"


def test_background_only_selects_no_excess(prior_files: dict[str, Path]) -> None:
    events, _ = toy_sample(20_000, 0, seed=21)
    options = fast_options(priors=[str(prior_files["matching"])])
    folded = train_folds(QUAK, options, events, REGION, n_folds=2, seed=3)
    m = np.asarray(events["mjj"])
    sr, sb = REGION.in_signal_region(m), REGION.in_sideband(m)
    # the signal region's background passes the sideband threshold as often as asked: no
    # sculpted excess for the bump hunt to find
    for eps in (0.1, 0.02):
        threshold = sideband_threshold(folded.scores, m, REGION, eps)
        eff = float((folded.scores[sr] >= threshold).mean())
        sigma = np.sqrt(eps * (1 - eps) / sr.sum()) + np.sqrt(eps * (1 - eps) / sb.sum())
        assert abs(eff - eps) < 4 * sigma + 0.1 * eps, f"selected {eff:.4f} of the SR at {eps}"
    # and signal-region scores look like sideband scores
    assert abs(auc(folded.scores[sr], folded.scores[sb]) - 0.5) < 0.04


def test_quadrant_score_is_strictly_monotone(matching: QUAK) -> None:
    ref_b, ref_s = matching.edges_
    lb = np.linspace(ref_b[0] - 5, ref_b[-1] + 5, 400)
    ls = np.linspace(ref_s[0] - 5, ref_s[-1] + 5, 400)
    for fixed in np.quantile(ls, [0.1, 0.5, 0.9]):
        s = quadrant_score(
            matching.counts_, matching._cells(lb, np.full_like(lb, fixed)),
            matching.n_reference_, lb - fixed,
        )  # fmt: skip
        assert np.all(np.diff(s) > 0), "more background-unlike must score higher"
    for fixed in np.quantile(lb, [0.1, 0.5, 0.9]):
        s = quadrant_score(
            matching.counts_, matching._cells(np.full_like(ls, fixed), ls),
            matching.n_reference_, fixed - ls,
        )  # fmt: skip
        assert np.all(np.diff(s) < 0), "more signal-like must score higher"


def test_mixture_axis_is_bounded_by_the_best_prior(
    training: EventTable, prior_files: dict[str, Path], test_background: EventTable
) -> None:
    paths = [str(prior_files["shifted"]), str(prior_files["three_prong"])]
    method = QUAK(fast_options(priors=paths, signal_axis="mixture"), seed=1)
    method.fit(region_data(training))
    losses = method.losses(test_background)
    best = losses["priors"].min(axis=1)
    # -log(mean_k p_k) lies between the best prior's loss and that plus log K
    assert np.all(losses["signal"] >= best - 1e-9)
    assert np.all(losses["signal"] <= best + np.log(2) + 1e-9)
    assert np.all(np.isfinite(method.score(test_background)))


def test_in_memory_prior_matches_its_file(
    tmp_path: Path, training: EventTable, test_background: EventTable
) -> None:
    from casehunt.toys import write_toy_file

    path = write_toy_file(tmp_path / "prior.h5", 2000, signal=True, seed=7)
    table, _ = make_toy_events(0, 2000, seed=7)
    table = table.with_columns(**derive_columns(table))
    scores = []
    for prior in (str(path), table):
        method = QUAK(fast_options(priors=[prior], prior_preselection=False), seed=2)
        method.fit(region_data(training))
        scores.append(method.score(test_background))
    np.testing.assert_array_equal(scores[0], scores[1])


def test_prior_files_are_read_once(
    tmp_path: Path, training: EventTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    import casehunt.readers
    from casehunt.toys import write_toy_file

    path = write_toy_file(tmp_path / "prior.h5", 2000, signal=True, seed=8)
    opened: list[str] = []
    original = casehunt.readers.open_events

    def counting(p: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(p))
        return original(p, *args, **kwargs)

    monkeypatch.setattr(casehunt.readers, "open_events", counting)
    n_flows = len(priors._FLOWS)
    for seed in (1, 2):  # two folds' models
        QUAK(fast_options(priors=[str(path)]), seed=seed).fit(region_data(training))
    assert opened == [str(path)]
    # the sharp and the broadened flow of the prior, each trained once and shared
    assert len(priors._FLOWS) == n_flows + 2


def test_log_column_density_is_in_feature_units() -> None:
    # log(1 + x) ~ N(3, 0.5^2): E[log p(x)] = -(1/2 + log(0.5 sqrt(2 pi))) - E[log(1 + x)]
    u = np.random.default_rng(1).normal(3.0, 0.5, (4_000, 1))
    x = np.expm1(u)
    cfg = FlowConfig(kind="maf", transforms=1, hidden=(8,), epochs=30, learning_rate=1e-2)
    with torch_threads(1):
        flow = DensityFlow(cfg, conditional=False, seed=0, log_columns=(True,)).fit(x)
    expected = -(0.5 + np.log(0.5 * np.sqrt(2 * np.pi))) - 3.0
    assert abs(flow.log_prob(x).mean() - expected) < 0.05
    with pytest.raises(ValueError, match="log_columns"):
        DensityFlow(cfg, conditional=False, log_columns=(True,)).fit(x - 1e4)


def test_flow_density_is_in_feature_units() -> None:
    # x ~ N(0, 100^2) in two dimensions: E[log p] = -(1 + log 2pi) - 2 log 100
    x = np.random.default_rng(0).normal(0.0, 100.0, (4_000, 2))
    cfg = FlowConfig(kind="maf", transforms=1, hidden=(8,), epochs=30, learning_rate=1e-2)
    with torch_threads(1):
        flow = DensityFlow(cfg, conditional=False, seed=0).fit(x)
    expected = -(1 + np.log(2 * np.pi)) - 2 * np.log(100.0)
    assert abs(flow.log_prob(x).mean() - expected) < 0.05


def test_missing_prior_file_is_an_input_error(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_prior.h5"
    with pytest.raises(InputError, match=r"no_such_prior\.h5"):
        QUAK(fast_options(priors=[str(missing)]))


def test_empty_sidebands_are_an_error(prior_files: dict[str, Path], training: EventTable) -> None:
    region = SignalRegion(3300.0, 3700.0, 3300.0, 3700.0)
    method = QUAK(fast_options(priors=[str(prior_files["matching"])]))
    with pytest.raises(RegionError, match="sideband"):
        method.fit(region_data(training, region))


def test_device_auto_falls_back_to_cpu(prior_files: dict[str, Path]) -> None:
    torch = pytest.importorskip("torch")
    method = QUAK({"priors": [str(prior_files["matching"])], "device": "auto"})
    assert method._device() == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"priors": []}, "priors"),
        ({"priors": "prior.h5"}, "priors"),
        ({"priors": [3]}, "priors"),
        ({"features": "case_jet"}, "features"),
        ({"features": ["mj2", 3]}, "features"),
        ({"prior_features": "case_jet"}, "prior_features"),
        ({"prior_features": 5}, "prior_features"),
        ({"prior_features": []}, "prior_features"),
        ({"prior_max_events": 0}, "prior_max_events"),
        ({"prior_preselection": "yes"}, "prior_preselection"),
        ({"prior_seed": 1.5}, "prior_seed"),
        ({"background_flow": {"transforms": 0}}, "background_flow.transforms"),
        ({"background_flow": {"depth": 3}}, "background_flow"),
        ({"background_flow": []}, "background_flow"),
        ({"prior_flow": {"type": "realnvp"}}, "prior_flow.type"),
        ({"prior_flow": {"hidden": [32, -1]}}, "prior_flow.hidden"),
        ({"prior_flow": {"learning_rate": 0}}, "prior_flow.learning_rate"),
        ({"prior_flow": {"patience": True}}, "prior_flow.patience"),
        ({"prior_flow": {"validation_fraction": 1.0}}, "prior_flow.validation_fraction"),
        ({"prior_flow": {"max_events": -5}}, "prior_flow.max_events"),
        ({"signal_axis": "max"}, "signal_axis"),
        ({"log_columns": "mj1"}, "log_columns"),
        ({"log_columns": None}, "log_columns"),
        ({"prior_broadening": 0.5}, "prior_broadening"),
        ({"prior_broadening": {"sigma": 0.5}}, "prior_broadening"),
        ({"prior_broadening": {"width": 0}}, "prior_broadening.width"),
        ({"prior_broadening": {"copies": 0}}, "prior_broadening.copies"),
        ({"prior_broadening": {"sharp_weight": 1.0}}, "prior_broadening.sharp_weight"),
        ({"score": "bins"}, "score"),
        ({"n_bins": 1}, "n_bins"),
        ({"device": ""}, "device"),
        ({"threads": 0}, "threads"),
        ({"progress": "no"}, "progress"),
    ],
)
def test_bad_options_name_the_option(
    prior_files: dict[str, Path], options: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        QUAK({"priors": [str(prior_files["matching"])], **options}, seed=0)
