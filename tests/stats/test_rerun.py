import json
import subprocess
import sys

import h5py
import pytest

from casehunt_stats import StatsConfig, StatsError
from casehunt_stats.cli import main
from casehunt_stats.rerun import analyze_results

from .conftest import write_results_dir


def _strict_load(path):
    def no_nan(token):
        raise ValueError(f"non-finite number {token} in {path}")

    return json.loads(path.read_text(), parse_constant=no_nan)


def test_rerun_end_to_end_with_plots(results_dir, capsys):
    assert main(["rerun", str(results_dir)]) == 0
    out = capsys.readouterr().out
    assert "toy_method" in out and "sr_2800_3300" in out and "inclusive" in out
    inc = _strict_load(results_dir / "stats" / "inclusive.json")
    meth = _strict_load(results_dir / "stats" / "toy_method.json")
    assert meth["method"] == "toy_method"
    assert meth["config"]["mass_hypotheses"] == [2400.0, 3000.0]
    assert meth["signal_model"]["kind"] == "dscb"  # fitted from signal_templates.h5
    good = meth["regions"]["sr_2800_3300"]
    assert good["status"] == "ok"
    assert good["efficiency"] == 0.1 and good["sr_low"] == 2800.0
    assert [p["mass"] for p in good["scan"]["points"]] == [
        3000.0
    ]  # only masses in [sr_low, sr_high)
    assert good["scan"]["max_z"] > 3  # 60 signal events injected at 3 TeV
    assert good["fit"]["n_params"] in (3, 4, 5)
    assert len(good["limits"]) == 1 and len(good["limits"][0]["expected_yield"]) == 5
    assert len(good["spectrum"]["pulls"]) == len(good["spectrum"]["edges"]) - 1
    bad = meth["regions"]["sr_5000_5500"]
    assert bad["status"] == "failed" and "too few events" in bad["reason"]
    assert [p["mass"] for p in inc["regions"]["inclusive"]["scan"]["points"]] == [2400.0, 3000.0]
    assert (results_dir / "plots" / "stats_toy_method_sr_2800_3300.png").stat().st_size > 0
    assert (results_dir / "plots" / "stats_inclusive_inclusive.png").exists()
    assert not (results_dir / "plots" / "stats_toy_method_sr_5000_5500.png").exists()
    assert not list((results_dir / "stats").glob("*.tmp"))


def test_analyze_results_returns_dict_and_global_toys(tmp_path):
    d = write_results_dir(tmp_path / "run", with_templates=False)
    cfg = StatsConfig.from_dict(
        {"mass_hypotheses": [2400.0, 3000.0], "compute_limits": False, "global_toys": 20}
    )
    res = analyze_results(d, config=cfg, plots=False)
    assert set(res) == {"inclusive", "toy_method"}
    assert res["toy_method"]["signal_model"]["kind"] == "gaussian"
    assert res["toy_method"]["global"]["n_toys"] == 20
    assert res["toy_method"]["regions"]["sr_2800_3300"]["limits"] == []
    assert not (d / "plots").exists()
    assert _strict_load(d / "stats" / "toy_method.json")["global"]["n_toys"] == 20


def test_missing_directory_exit_code_2(tmp_path, capsys):
    missing = tmp_path / "does_not_exist"
    assert main(["rerun", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err
    assert "Traceback" not in err


def test_corrupt_or_missing_files_name_the_file(results_dir, capsys):
    (results_dir / "toy_method" / "selection.h5").write_bytes(b"not hdf5")
    assert main(["rerun", str(results_dir), "--no-plots"]) == 2
    assert "selection.h5" in capsys.readouterr().err
    (results_dir / "inclusive.h5").unlink()
    with pytest.raises(StatsError, match=r"inclusive\.h5"):
        analyze_results(results_dir, plots=False)


def test_missing_region_attribute(results_dir):
    with h5py.File(results_dir / "toy_method" / "selection.h5", "a") as fh:
        del fh["sr_2800_3300"].attrs["sr_low"]
    with pytest.raises(StatsError, match="sr_low"):
        analyze_results(results_dir, plots=False)


def test_config_file_and_bad_config(results_dir, tmp_path, capsys):
    bad = tmp_path / "stats.json"
    bad.write_text(json.dumps({"bin_widht": 4}))
    assert main(["rerun", str(results_dir), "--no-plots", "--config", str(bad)]) == 2
    assert "bin_widht" in capsys.readouterr().err
    manifest = results_dir / "manifest.json"
    manifest.write_text(json.dumps({"config": {"statistics": {"nope": 1}}}))
    assert main(["rerun", str(results_dir), "--no-plots"]) == 2
    assert "manifest.json" in capsys.readouterr().err
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps({"statistics": {"mass_hypotheses": [3000.0], "compute_limits": False}})
    )
    assert main(["rerun", str(results_dir), "--no-plots", "--config", str(good)]) == 0


def test_console_script_module_runs(tmp_path):
    missing = tmp_path / "nothing"
    proc = subprocess.run(
        [sys.executable, "-m", "casehunt_stats.cli", "rerun", str(missing)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert str(missing) in proc.stderr
