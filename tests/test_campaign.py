"""`casehunt campaign`: the injection study as pure tasks, resumable, on any engine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from conftest import make_config, write_config

import casehunt.campaign as campaign_module
from casehunt.campaign import CampaignError, run_campaign
from casehunt.cli import main
from casehunt.config import Config
from casehunt.engine import DaskEngine, SerialEngine, TaskStore
from casehunt.errors import ConfigError
from casehunt.pipeline import run_analysis

AMOUNTS = [0, 100, 250, 400]


def campaign_config(toy_files: dict[str, Path], **campaign: Any) -> dict[str, Any]:
    cfg = make_config(
        toy_files,
        statistics={"fit_range": [2600, 5000], "compute_limits": False},
        output={"plots": False, "statistics": True},
    )
    cfg["injection"].pop("n_events")
    cfg["campaign"] = {"n_events": AMOUNTS, "seeds": 2, "limits": False, **campaign}
    return cfg


def scores(folder: Path, method: str = "template") -> dict[str, np.ndarray]:
    out = {}
    for path in sorted(folder.glob(f"runs/*/{method}/*/scores.h5")):
        with h5py.File(path) as f:
            out[str(path.relative_to(folder))] = f["score"][:]
    return out


@pytest.fixture(scope="module")
def serial_campaign(
    tmp_path_factory: pytest.TempPathFactory, toy_files: dict[str, Path]
) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("campaign") / "serial"
    result = run_campaign(Config(campaign_config(toy_files)), out, SerialEngine(), progress=False)
    return out, result


def test_campaign_layout_and_discovery(serial_campaign: tuple[Path, dict[str, Any]]) -> None:
    out, result = serial_campaign
    assert (out / "campaign.json").is_file()
    assert json.loads((out / "campaign.json").read_text())["levels"] == [float(a) for a in AMOUNTS]
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(
        f"n_events_{a}_seed{s}" for a in AMOUNTS for s in (3, 4)
    )
    for run in (out / "runs").iterdir():  # every point is a complete results directory
        assert {"manifest.json", "stats", "inclusive.h5", "summary.json"} <= {
            p.name for p in run.iterdir()
        }
    tasks = result["tasks"]
    # 4 amounts x 2 seeds x 3 folds, 8 runs, 2 scans each for the method and inclusive
    assert (tasks["computed"], tasks["reused"], tasks["failed"]) == (24 + 8 + 4, 0, [])
    res = result["results"]
    z = {p["level"]: p["asimov_z"] for p in res["template"]["points"] if p["seed"] == 3}
    assert z[0.0] == 0.0
    assert z[400.0] > z[250.0] > z[100.0] > 0
    # the selection needs less signal than the inclusive search for 3 sigma
    assert res["template"]["xsec_3sigma"]["median"] is not None
    assert res["template"]["improvement_3sigma"] > 1.5
    assert res["inclusive"]["improvement_3sigma"] == pytest.approx(1.0)
    inj = json.loads((out / "runs" / "n_events_250_seed3" / "summary.json").read_text())
    assert inj["injection"]["n_injected"] == 250
    # the fold tasks carry their models' fit summaries to the assembled run
    fits = inj["selections"]["template"]["sr_3300_3700"]["fit"]
    assert len(fits) == 3 and all(f["reference_events"] > 0 for f in fits)


def test_a_point_equals_casehunt_run(
    tmp_path: Path, toy_files: dict[str, Path], serial_campaign: tuple[Path, dict[str, Any]]
) -> None:
    out, _ = serial_campaign
    cfg = make_config(toy_files, run={"seed": 4}, injection={"n_events": 250})
    run_analysis(Config(cfg), tmp_path / "run", progress=False)
    with h5py.File(tmp_path / "run" / "template" / "sr_3300_3700" / "scores.h5") as f:
        direct = f["score"][:]
    camp = scores(out)["runs/n_events_250_seed4/template/sr_3300_3700/scores.h5"]
    np.testing.assert_array_equal(camp, direct)


def test_two_local_workers_give_the_same_results(
    tmp_path: Path, toy_files: dict[str, Path], serial_campaign: tuple[Path, dict[str, Any]]
) -> None:
    out, serial = serial_campaign
    with DaskEngine(workers=2) as engine:
        assert engine.n_workers == 2
        dask = run_campaign(
            Config(campaign_config(toy_files)), tmp_path / "dask", engine, progress=False
        )
    a, b = scores(out), scores(tmp_path / "dask")
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert (
        dask["results"]["template"]["xsec_3sigma"] == serial["results"]["template"]["xsec_3sigma"]
    )


def test_rerun_computes_only_what_is_missing(tmp_path: Path, toy_files: dict[str, Path]) -> None:
    config = Config(campaign_config(toy_files, n_events=[0, 250], seeds=1))
    first = run_campaign(config, tmp_path / "c", SerialEngine(), progress=False)
    # as if killed: one fold result and one run's statistics were never written
    (tmp_path / "c" / "tasks" / "folds" / "n_events_250_seed3" / "template" / "region0" / "fold1.pkl").unlink()  # fmt: skip
    (tmp_path / "c" / "tasks" / "runs" / "n_events_0_seed3.pkl").unlink()
    before = scores(tmp_path / "c")
    again = run_campaign(config, tmp_path / "c", SerialEngine(), progress=False)
    # only the two missing results are computed (tasks are pure: the stored run of 250,
    # assembled from the lost fold, is still valid since the fold recomputes identically)
    assert (again["tasks"]["computed"], again["tasks"]["reused"]) == (
        2,
        first["tasks"]["computed"] - 2,
    )
    after = scores(tmp_path / "c")
    for key in before:
        np.testing.assert_array_equal(before[key], after[key])
    # a fold result stored before fit summaries (a bare score array) still assembles
    fold = "folds/n_events_250_seed3/template/region0/fold1"
    store = TaskStore(tmp_path / "c" / "tasks")
    store.save(fold, store.load(fold)[0])
    (tmp_path / "c" / "tasks" / "runs" / "n_events_250_seed3.pkl").unlink()
    run_campaign(config, tmp_path / "c", SerialEngine(), progress=False)
    for key, value in scores(tmp_path / "c").items():
        np.testing.assert_array_equal(value, before[key])
    summary = json.loads((tmp_path / "c/runs/n_events_250_seed3/summary.json").read_text())
    fits = summary["selections"]["template"]["sr_3300_3700"]["fit"]
    assert fits[1] == {} and fits[0]["reference_events"] > 0
    # more seeds later: only the new points are computed
    more = Config(campaign_config(toy_files, n_events=[0, 250], seeds=2))
    grown = run_campaign(more, tmp_path / "c", SerialEngine(), progress=False)
    # seed 3's folds and runs are kept; the scans of seed 4 and all of its points are new
    assert grown["tasks"]["reused"] == 2 * 3 + 2 + 2
    assert grown["tasks"]["computed"] == 2 * 3 + 2 + 2
    assert grown["seeds"] == [3, 4]


def test_a_failed_task_is_reported_and_the_rest_kept(
    tmp_path: Path,
    toy_files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real = campaign_module.fold_task

    def flaky(point: Any, config: Any, method: str, region: Any, k: int) -> tuple[np.ndarray, dict]:
        if point.level == 250 and k == 2:
            raise RuntimeError("this fold broke")
        return real(point, config, method, region, k)

    monkeypatch.setattr(campaign_module, "fold_task", flaky)
    path = write_config(
        tmp_path / "c.yaml", campaign_config(toy_files, n_events=[0, 250, 400], seeds=1)
    )
    code = main(["campaign", str(path), "-o", str(tmp_path / "c"), "--serial", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert (
        "folds/n_events_250_seed3/template/region0/fold2 failed: RuntimeError: this fold broke"
        in err
    )
    camp = json.loads((tmp_path / "c" / "campaign.json").read_text())
    (failure,) = camp["tasks"]["failed"]
    assert "this fold broke" in failure["traceback"] or "flaky" in failure["traceback"]
    # the other points are complete; the broken one has the method missing, not the run
    levels = {p["level"] for p in camp["results"]["template"]["points"]}
    assert levels == {0.0, 400.0}
    assert (tmp_path / "c" / "runs" / "n_events_250_seed3" / "inclusive.h5").is_file()
    # fixed, the same command finishes only the missing work
    monkeypatch.setattr(campaign_module, "fold_task", real)
    code = main(["campaign", str(path), "-o", str(tmp_path / "c"), "--serial", "--no-progress"])
    camp = json.loads((tmp_path / "c" / "campaign.json").read_text())
    assert code == 0
    assert camp["tasks"]["failed"] == []
    assert {p["level"] for p in camp["results"]["template"]["points"]} == {0.0, 250.0, 400.0}


def test_unreachable_scheduler(
    tmp_path: Path, toy_files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path / "c.yaml", campaign_config(toy_files))
    code = main(
        ["campaign", str(path), "-o", str(tmp_path / "c"), "--scheduler", "tcp://127.0.0.1:9"]
    )
    assert code == 2
    assert "cannot reach the dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"campaign": {"n_events": [0, 100], "s_over_sqrt_b": [1.0]}}, "exactly one of"),
        ({"campaign": {"cross_section": [1.0]}}, "needs campaign.luminosity"),
        ({"campaign": {"n_events": [0, 1.5]}}, "integer event counts"),
        ({"campaign": {"seeds": 0}}, "campaign.seeds"),
        ({"campaign": {"bogus": 1}}, "campaign.bogus"),
        ({"injection": {"signal_mass": None}}, "injection.signal_mass"),
        ({"injection": {"n_events": 10}}, "remove injection.n_events"),
    ],
)
def test_bad_campaign_configs(
    toy_files: dict[str, Path], change: dict[str, Any], message: str
) -> None:
    cfg = campaign_config(toy_files)
    if "n_events" in change.get("campaign", {}) and "s_over_sqrt_b" not in change["campaign"]:
        cfg["campaign"].pop("n_events")
    if "cross_section" in change.get("campaign", {}):
        cfg["campaign"].pop("n_events")
    for section, values in change.items():
        cfg[section] = {**cfg[section], **values}
    with pytest.raises(ConfigError, match=message):
        Config(cfg)


def test_amount_beyond_the_signal_pool_and_foreign_output(
    tmp_path: Path, toy_files: dict[str, Path], serial_campaign: tuple[Path, dict[str, Any]]
) -> None:
    with pytest.raises(CampaignError, match="needs 50000 signal events but the preselected"):
        run_campaign(
            Config(campaign_config(toy_files, n_events=[0, 50000])),
            tmp_path / "big",
            SerialEngine(),
            progress=False,
        )
    out, _ = serial_campaign
    other = campaign_config(toy_files)
    other["selection"] = {"efficiency": 0.1}
    with pytest.raises(CampaignError, match="another configuration"):
        run_campaign(Config(other), out, SerialEngine(), progress=False)
    changed = tmp_path / "data.h5"
    changed.write_bytes(toy_files["data"].read_bytes())
    cfg = campaign_config({**toy_files, "data": changed}, n_events=[0, 100], seeds=1)
    run_campaign(Config(cfg), tmp_path / "changed", SerialEngine(), progress=False)
    with h5py.File(changed, "a") as f:
        f["mjj"][0] = 3000.0
    with pytest.raises(CampaignError, match="the input changed"):
        run_campaign(Config(cfg), tmp_path / "changed", SerialEngine(), progress=False)
    with pytest.raises(ConfigError, match="run it with `casehunt campaign`"):
        run_analysis(Config(campaign_config(toy_files)), tmp_path / "run", progress=False)


def test_a_killed_campaign_finishes_only_what_was_missing(
    tmp_path: Path, toy_files: dict[str, Path], serial_campaign: tuple[Path, dict[str, Any]]
) -> None:
    path = write_config(tmp_path / "c.yaml", campaign_config(toy_files))
    out = tmp_path / "c"
    cmd = [sys.executable, "-m", "casehunt.cli", "campaign", str(path), "-o", str(out)]
    proc = subprocess.Popen([*cmd, "--serial", "--no-progress"], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(list((out / "tasks").rglob("fold*.pkl"))) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = len(list((out / "tasks").rglob("*.pkl")))
    assert stored >= 6
    assert not (out / "campaign.json").exists()
    done = subprocess.run([*cmd, "--serial", "--no-progress"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    camp = json.loads((out / "campaign.json").read_text())
    assert camp["tasks"]["reused"] >= stored - 1  # at most the task being written was lost
    assert camp["tasks"]["computed"] + camp["tasks"]["reused"] == camp["tasks"]["total"]
    expected, _ = serial_campaign
    a, b = scores(expected), scores(out)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_casehunt_run_on_a_local_cluster_gives_the_same_scores(
    tmp_path: Path, toy_files: dict[str, Path]
) -> None:
    cfg = make_config(toy_files, run={"seed": 4}, injection={"n_events": 250})
    path = write_config(tmp_path / "run.yaml", cfg)
    assert main(["run", str(path), "-o", str(tmp_path / "here"), "--no-progress"]) == 0
    assert (
        main(["run", str(path), "-o", str(tmp_path / "dask"), "--workers", "2", "--no-progress"])
        == 0
    )
    for run in ("here", "dask"):
        assert not (tmp_path / run / ".tasks").exists()
    with (
        h5py.File(tmp_path / "here" / "template" / "sr_3300_3700" / "scores.h5") as a,
        h5py.File(tmp_path / "dask" / "template" / "sr_3300_3700" / "scores.h5") as b,
    ):
        np.testing.assert_array_equal(a["score"][:], b["score"][:])
        np.testing.assert_array_equal(a["selected"][:], b["selected"][:])


def test_amounts_in_significance_and_cross_section(
    tmp_path: Path, toy_files: dict[str, Path]
) -> None:
    cfg = campaign_config(toy_files, seeds=1, limits=True)
    cfg["campaign"].pop("n_events")
    cfg["injection"]["region"] = "sr_3300_3700"
    by_s = run_campaign(
        Config({**cfg, "campaign": {**cfg["campaign"], "s_over_sqrt_b": [0, 2, 4]}}),
        tmp_path / "s",
        SerialEngine(),
        progress=False,
    )
    assert by_s["unit"] == "S/sqrt(B)"
    for level in (2, 4):
        summary = json.loads((tmp_path / "s" / "runs" / f"s_over_sqrt_b_{level}_seed3" / "summary.json").read_text())  # fmt: skip
        assert summary["injection"]["s_over_sqrt_b"] == pytest.approx(level, abs=0.05)
    # the limit at zero injection is in the same units as the others (not in events)
    excluded = {p["level"]: p["excluded_xsec"] for p in by_s["results"]["inclusive"]["points"]}
    assert 0.2 * excluded[2.0] < excluded[0.0] < 5 * excluded[2.0]
    lumi = 10.0
    by_xs = run_campaign(
        Config(
            {**cfg, "campaign": {**cfg["campaign"], "cross_section": [0, 30], "luminosity": lumi}}
        ),
        tmp_path / "xs",
        SerialEngine(),
        progress=False,
    )
    assert by_xs["unit"] == "fb"
    presel = json.loads((tmp_path / "xs" / "prepared" / "meta.json").read_text())
    summary = json.loads((tmp_path / "xs" / "runs" / "cross_section_30_seed3" / "summary.json").read_text())  # fmt: skip
    assert summary["injection"]["n_injected"] == round(
        30 * lumi * presel["signal_presel_efficiency"]
    )
    point = next(p for p in by_xs["results"]["inclusive"]["points"] if p["level"] == 30.0)
    assert point["expected_signal"] == pytest.approx(summary["injection"]["n_injected"])
