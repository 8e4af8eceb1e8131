"""HEPData export of a run and of a campaign: files, values, validity, missing extra."""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from conftest import make_config
from test_report_html import example_campaign

from casehunt.config import Config
from casehunt.errors import CasehuntError
from casehunt.hepdata import HEPDataUnavailableError, export_hepdata, validate_submission
from casehunt.pipeline import run_analysis
from casehunt.report_html import add_export_parser

pytest.importorskip("hepdata_lib")

# hepdata_validator imports the deprecated jsonschema.RefResolver
pytestmark = pytest.mark.filterwarnings("ignore:.*RefResolver is deprecated:DeprecationWarning")


def tables(folder: Path) -> dict[str, dict]:
    """{table name: its data file} as listed in submission.yaml."""
    docs = list(yaml.safe_load_all((folder / "submission.yaml").read_text()))
    return {
        d["name"]: yaml.safe_load((folder / d["data_file"]).read_text())
        for d in docs
        if "data_file" in d
    }


def dependent(table: dict, name: str, **qualifiers: str) -> dict:
    for var in table["dependent_variables"]:
        quals = {q["name"]: q["value"] for q in var.get("qualifiers", [])}
        if var["header"]["name"] == name and all(quals.get(k) == v for k, v in qualifiers.items()):
            return var
    raise KeyError(name)


def values(var: dict) -> list:
    return [v["value"] for v in var["values"]]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, toy_files: dict[str, Path]) -> Path:
    config = make_config(
        toy_files,
        output={"statistics": True},
        statistics={"fit_range": [2700, 6000], "mass_hypotheses": [3450, 3550]},
    )
    out = tmp_path_factory.mktemp("hepdata") / "run"
    run_analysis(Config(config), out, progress=False)
    return out


def test_run_export(run_dir: Path, tmp_path: Path) -> None:
    archive = export_hepdata(run_dir, tmp_path / "sub")
    folder = tmp_path / "sub"
    assert archive == tmp_path / "sub.tar.gz"
    with tarfile.open(archive) as tar:
        assert "submission.yaml" in tar.getnames()
    assert validate_submission(folder) == []
    found = tables(folder)
    assert {p.name for p in folder.glob("*.yaml")} == {"submission.yaml"} | {
        f"{name.lower().replace(' ', '_')}.yaml" for name in found
    }
    assert set(found) >= {
        "Cutflow",
        "mjj spectrum template sr_3300_3700",
        "Local significance template sr_3300_3700",
        "Limits template sr_3300_3700",
        "Limits inclusive inclusive",
    }
    cutflow = json.loads((run_dir / "cutflow.json").read_text())["data"]
    assert values(dependent(found["Cutflow"], "Data events")) == [cutflow["initial"]] + [
        c["events"] for c in cutflow["cuts"]
    ]
    region = json.loads((run_dir / "stats/template.json").read_text())["regions"]["sr_3300_3700"]
    spectrum = found["mjj spectrum template sr_3300_3700"]
    assert spectrum["independent_variables"][0]["header"] == {"name": "$m_{jj}$", "units": "GeV"}
    observed = dependent(spectrum, "Selected events", METHOD="template")
    assert values(observed) == region["spectrum"]["observed"]
    scan = found["Local significance template sr_3300_3700"]
    z = values(dependent(scan, "Local significance"))
    assert z == pytest.approx([p["z"] for p in region["scan"]["points"]], rel=1e-5)
    sqrt_s = {q["name"]: q for q in dependent(scan, "Local significance")["qualifiers"]}
    assert sqrt_s["SQRT(S)"] == {"name": "SQRT(S)", "units": "TeV", "value": 13.0}
    limits = found["Limits template sr_3300_3700"]
    expected = dependent(limits, "Expected 95% CL limit on the signal yield")
    first = region["limits"][0]["expected_yield"]
    assert expected["values"][0]["value"] == pytest.approx(first[2], rel=1e-5)
    assert expected["values"][0]["errors"][0]["asymerror"]["minus"] == pytest.approx(
        first[1] - first[2], rel=1e-4
    )


def test_campaign_export(tmp_path: Path) -> None:
    campaign = example_campaign()
    d = tmp_path / "campaign"
    d.mkdir()
    (d / "campaign.json").write_text(json.dumps(campaign))
    parser = argparse.ArgumentParser()
    add_export_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["export", "hepdata", str(d), "-o", str(tmp_path / "out")])
    assert args.func(args) == 0
    folder = tmp_path / "out"
    assert (tmp_path / "out.tar.gz").is_file()
    assert validate_submission(folder) == []
    found = tables(folder)
    assert set(found) == {"Discovery sensitivity", "Asimov significance vs injected signal"}
    disc = found["Discovery sensitivity"]
    names = ["cwola", "cathode", "inclusive"]
    assert [v["value"] for v in disc["independent_variables"][0]["values"]] == names
    res = campaign["results"]
    for label, key in (("3 sigma", "3sigma"), ("5 sigma", "5sigma")):
        var = dependent(disc, f"Signal for {label}")
        assert var["header"]["units"] == "fb"
        assert values(var) == pytest.approx([res[n][f"xsec_{key}"]["median"] for n in names])
        ratio = values(dependent(disc, f"Inclusive / method at {label}"))
        assert ratio == pytest.approx([res[n][f"improvement_{key}"] for n in names], rel=1e-5)
    limit = values(dependent(disc, "Calibrated 95% CL limit"))
    assert limit == pytest.approx([res[n]["calibrated_limit"]["median"] for n in names])
    asimov = found["Asimov significance vs injected signal"]
    assert values(asimov["independent_variables"][0]) == campaign["levels"]
    cathode = dependent(asimov, "Asimov significance", METHOD="cathode")
    # level 2: one seed failed, the other one's value is the median
    ok = [p for p in res["cathode"]["points"] if p["level"] == 2.0 and p["status"] == "ok"]
    assert values(cathode)[2] == pytest.approx(ok[0]["asimov_z"])


def test_output_must_not_replace_the_input(run_dir: Path) -> None:
    with pytest.raises(CasehuntError, match="must not be or contain"):
        export_hepdata(run_dir, run_dir.parent)


def test_missing_hepdata_lib_names_the_extra(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "hepdata_lib", None)  # import raises ImportError
    with pytest.raises(HEPDataUnavailableError, match=r"pip install casehunt\[hepdata\]"):
        export_hepdata(run_dir, tmp_path / "sub")
    assert issubclass(HEPDataUnavailableError, CasehuntError)
