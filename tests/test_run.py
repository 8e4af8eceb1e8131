"""`casehunt run` end to end on toy files: results, reproducibility and errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import h5py
import numpy as np
import pytest
from conftest import make_config, write_config

from casehunt.cli import main
from casehunt.config import Config
from casehunt.errors import ConfigError
from casehunt.hookspecs import hookimpl
from casehunt.methods import TrainingData
from casehunt.pipeline import run_analysis
from casehunt_template import SidebandGaussian


def run(tmp_path: Path, config: dict, name: str = "out") -> tuple[int, Path]:
    cfg = write_config(tmp_path / f"{name}.yaml", config)
    out = tmp_path / name
    return main(["run", str(cfg), "--output", str(out), "--no-progress"]), out


def test_results_directory(tmp_path: Path, toy_files: dict[str, Path]) -> None:
    config = make_config(toy_files, output={"plots": True})
    code, out = run(tmp_path, config)
    assert code == 0
    for rel in (
        "manifest.json",
        "cutflow.json",
        "summary.json",
        "report.md",
        "inclusive.h5",
        "signal_templates.h5",
        "template/selection.h5",
        "template/sr_3300_3700/scores.h5",
        "plots/mjj_template.png",
    ):
        assert (out / rel).is_file(), rel
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seeds"]["run"] == 3
    assert {i["role"] for i in manifest["inputs"]} == {"input", "injection"}
    assert all(len(i["sha256"]) == 64 for i in manifest["inputs"])
    assert "casehunt" in manifest["versions"]
    assert manifest["injection"]["n_injected"] == 300

    cutflow = json.loads((out / "cutflow.json").read_text())["data"]
    assert cutflow["initial"] == 12_000
    assert [c["cut"] for c in cutflow["cuts"]] == ["jet_pt", "jet_eta", "delta_eta", "mjj_min"]

    with h5py.File(out / "template/sr_3300_3700/scores.h5") as f:
        labels, injected, selected = f["label"][:], f["injected"][:], f["selected"][:]
        mjj = f["mjj"][:]
        np.testing.assert_array_equal(labels == 1, injected)
        assert labels.sum() == 300
        sb = ((mjj >= 3000) & (mjj < 3300)) | ((mjj >= 3700) & (mjj < 4000))
        assert 0.02 < selected[sb].mean() < 0.09
    with h5py.File(out / "template/selection.h5") as f:
        g = f["sr_3300_3700"]
        assert g.attrs["efficiency"] == 0.05
        assert len(g["mjj"]) == selected.sum()
    # the toy signal is two-pronged and heavy: the template's distance finds it
    sr = (mjj >= 3300) & (mjj < 3700)
    assert selected[sr & injected].mean() > 5 * selected[sr & ~injected].mean()


def test_same_config_and_seed_give_the_same_results(
    tmp_path: Path, toy_files: dict[str, Path]
) -> None:
    config = make_config(toy_files)
    assert run(tmp_path, config, "a")[0] == 0
    assert run(tmp_path, config, "b")[0] == 0
    with (
        h5py.File(tmp_path / "a/template/sr_3300_3700/scores.h5") as a,
        h5py.File(tmp_path / "b/template/sr_3300_3700/scores.h5") as b,
    ):
        for key in ("event_id", "score", "fold", "selected"):
            np.testing.assert_array_equal(a[key][:], b[key][:])


def test_injection_by_significance(tmp_path: Path, toy_files: dict[str, Path]) -> None:
    config = make_config(toy_files)
    config["injection"] = {"signal": str(toy_files["signal"]), "s_over_sqrt_b": 3.0}
    code, out = run(tmp_path, config)
    assert code == 0
    inj = json.loads((out / "manifest.json").read_text())["injection"]
    assert inj["n_in_region"] == round(3.0 * np.sqrt(inj["n_background_in_region"]))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"input": {"data": "missing.h5"}}, "missing.h5: no such file"),
        ({"methods": {"nosuchmethod": {}}}, "unknown method 'nosuchmethod'"),
        ({"methods": {"template": {"n_trees": 3}}}, "unknown option(s) 'n_trees'"),
        ({"regions": {"windows": [[9000, 9500]]}}, "no events in the signal region"),
        ({"selection": {"efficency": 0.1}}, "selection.efficency"),
        ({"injection": {"n_events": 10**6}}, "preselected signal pool has only"),
    ],
)
def test_errors_name_the_problem_and_leave_nothing(
    tmp_path: Path,
    toy_files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    change: dict,
    message: str,
) -> None:
    config = make_config(toy_files)
    for section, values in change.items():
        config[section] = {**config[section], **values} if section != "methods" else values
    code, out = run(tmp_path, config)
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
    assert not list(tmp_path.glob(".out.partial*"))


def test_missing_column_and_nan(
    tmp_path: Path, toy_files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    src = h5py.File(toy_files["data"])
    for name, edit in (("nocol", "drop"), ("nan", "nan")):
        path = tmp_path / f"{name}.h5"
        with h5py.File(path, "w") as f:
            for key in src:
                values = src[key][:]
                if key == "jet_tau2" and edit == "drop":
                    continue
                if key == "jet_msd" and edit == "nan":
                    values[17, 1] = np.nan
                f[key] = values
        code, out = run(tmp_path, make_config(toy_files, input={"data": str(path)}), name)
        err = capsys.readouterr().err
        assert code == 2 and not out.exists()
        if edit == "drop":
            assert "needs column(s)" in err and "tau21_j1" in err
        else:
            assert "'jet_msd' has 1 events with NaN" in err and "nan.h5" in err
    src.close()


def test_existing_results_are_not_overwritten(
    tmp_path: Path, toy_files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config(toy_files)
    assert run(tmp_path, config)[0] == 0
    code, _ = run(tmp_path, config)
    assert code == 2
    assert "use --overwrite" in capsys.readouterr().err


class GlobalDistance(SidebandGaussian):
    """A global method: trained once on all events of the training folds."""

    name = "global_distance"
    training = "global"


class Reporter:
    """A plugin that sees the end of each method and writes into the results."""

    def __init__(self) -> None:
        self.finished: list[str] = []

    @hookimpl
    def casehunt_method_finished(self, method: str, result: dict, config: dict) -> None:
        self.finished.append(method)

    @hookimpl
    def casehunt_write_report(self, results: dict, outdir: str, config: dict) -> None:
        (Path(outdir) / "extra.txt").write_text(",".join(results["selections"]))


def test_global_method_and_reporting_hooks(tmp_path: Path, toy_files: dict[str, Path]) -> None:
    config = make_config(toy_files, methods={"global_distance": {}, "template": {}})
    config["regions"] = {"windows": [[3000, 3300], [3300, 3700]], "sideband_width": 300}
    reporter = Reporter()
    result = run_analysis(
        Config(config), tmp_path / "out", progress=False, plugins=(GlobalDistanceHooks, reporter)
    )
    assert sorted(reporter.finished) == ["global_distance", "template"]
    assert (tmp_path / "out/extra.txt").read_text() == "template,global_distance"
    with (
        h5py.File(tmp_path / "out/global_distance/sr_3000_3300/scores.h5") as a,
        h5py.File(tmp_path / "out/global_distance/sr_3300_3700/scores.h5") as b,
    ):
        # trained once: the same scores serve every region, with thresholds of their own
        np.testing.assert_array_equal(a["score"][:], b["score"][:])
        assert a.attrs["threshold"] != b.attrs["threshold"]
    assert set(result.selections["template"]) == {"sr_3000_3300", "sr_3300_3700"}
    # the manifest records the seeds used: one for the global method, one per region else
    seeds = json.loads((tmp_path / "out/manifest.json").read_text())["seeds"]["methods"]
    assert len(set(seeds["global_distance"].values())) == 1
    assert len(set(seeds["template"].values())) == 2


class GlobalDistanceHooks:
    @staticmethod
    @hookimpl
    def casehunt_register_methods() -> list:
        return [GlobalDistance]


def test_statistics_and_reviewer_rerun(
    tmp_path: Path, toy_files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config(
        toy_files,
        output={"statistics": True},
        statistics={
            "fit_range": [2700, 6000],
            "compute_limits": False,
            "mass_hypotheses": [3400, 3500, 3600],
        },
    )
    code, out = run(tmp_path, config)
    assert code == 0
    first = json.loads((out / "stats/template.json").read_text())
    region = first["regions"]["sr_3300_3700"]
    assert region["status"] == "ok"
    assert region["scan"]["max_z_mass"] == 3500.0  # the injected mass
    assert "| template | sr_3300_3700 |" in (out / "report.md").read_text()
    # a reviewer recomputes stats/ from the saved selections alone
    (out / "stats/template.json").unlink()
    assert main(["stats", "rerun", str(out), "--no-plots"]) == 0
    again = json.loads((out / "stats/template.json").read_text())
    assert again["regions"]["sr_3300_3700"]["scan"] == region["scan"]
    assert main(["stats", "rerun", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_bad_statistics_key_fails_before_any_work(
    tmp_path: Path, toy_files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(
        tmp_path,
        make_config(toy_files, output={"statistics": True}, statistics={"fit_rnge": [1, 2]}),
    )
    assert code == 2
    assert "fit_rnge" in capsys.readouterr().err
    assert not out.exists()


class SidebandRecorder(SidebandGaussian):
    """Records the mjj range of the sideband events it trains on."""

    name = "recorder"
    seen: ClassVar[list[tuple[float, float]]] = []

    def fit(self, data: TrainingData) -> None:
        m = np.asarray(data.events["mjj"])[data.in_sideband]
        type(self).seen.append((float(m.min()), float(m.max())))
        super().fit(data)


class RecorderHooks:
    @staticmethod
    @hookimpl
    def casehunt_register_methods() -> list:
        return [SidebandRecorder]


@pytest.mark.parametrize(
    ("sidebands", "low", "high"),
    [("region", 3000, 4000), (500, 2800, 4200), ("all", 2600, 5500)],  # "all": to the last event
)
def test_training_sidebands_per_method(
    tmp_path: Path, toy_files: dict[str, Path], sidebands: object, low: float, high: float
) -> None:
    SidebandRecorder.seen.clear()
    config = make_config(toy_files, methods={"recorder": {"training_sidebands": sidebands}})
    result = run_analysis(
        Config(config), tmp_path / "out", progress=False, plugins=(RecorderHooks,)
    )
    lows, highs = zip(*SidebandRecorder.seen, strict=True)
    assert low <= min(lows) < low + 50
    assert high - 150 < max(highs) <= (high if sidebands != "all" else np.inf)
    # the selection threshold is still set in the region's own sidebands (300 GeV)
    sel = result.selections["recorder"]["sr_3300_3700"]
    assert abs(sel["n_selected_sideband"] / sel["n_sideband"] - 0.05) < 0.02


def test_bad_training_sidebands(toy_files: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match=r"methods\.template\.training_sidebands"):
        Config(make_config(toy_files, methods={"template": {"training_sidebands": "wide"}}))


class Summarising(SidebandGaussian):
    """Reports how many sideband events each fold trained on; or a bad summary."""

    name = "summarising"
    default_options: ClassVar[dict] = {**SidebandGaussian.default_options, "bad": False}

    def fit(self, data: TrainingData) -> None:
        self.n_sideband_ = int(np.sum(data.in_sideband))
        super().fit(data)

    def fit_summary(self) -> dict:
        if self.options["bad"]:
            return {"sidebands": np.arange(3)}  # an array is not JSON
        return {"sideband_events": self.n_sideband_}


class Silent(SidebandGaussian):
    name = "silent"

    def fit_summary(self) -> dict:
        return {}


class SummarisingHooks:
    @staticmethod
    @hookimpl
    def casehunt_register_methods() -> list:
        return [Summarising, Silent]


def test_fit_summaries_are_recorded_per_fold_here_and_on_an_engine(
    tmp_path: Path, toy_files: dict[str, Path]
) -> None:
    from casehunt.engine import SerialEngine
    from casehunt.kfold import MethodFailure

    config = Config(make_config(toy_files, methods={"summarising": {}, "silent": {}}))
    fits = {}
    for where, engine in (("here", None), ("engine", SerialEngine())):
        run_analysis(
            config, tmp_path / where, progress=False, plugins=(SummarisingHooks,), engine=engine
        )
        selections = json.loads((tmp_path / where / "summary.json").read_text())["selections"]
        fits[where] = selections["summarising"]["sr_3300_3700"]["fit"]
        assert "fit" not in selections["silent"]["sr_3300_3700"]  # nothing to report
    counts = [f["sideband_events"] for f in fits["here"]]
    n_folds = config["run"]["n_folds"]
    assert len(counts) == n_folds
    # each fold's model trains without that fold's share of the sideband events
    total = sum(counts) / (n_folds - 1)
    assert all(0.5 / n_folds < 1 - c / total < 1.5 / n_folds for c in counts)
    assert fits["engine"] == fits["here"]

    bad = Config(make_config(toy_files, methods={"summarising": {"bad": True}}))
    with pytest.raises(MethodFailure, match="'summarising' returned a fit summary"):
        run_analysis(bad, tmp_path / "bad", progress=False, plugins=(SummarisingHooks,))
    assert not (tmp_path / "bad").exists()
