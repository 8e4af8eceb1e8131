"""The benchmark suite end to end on toy data (casehunt.testing.toy_sample), and resuming."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import load_script

#: every method plugin of the repository (the template aside)
METHODS = ("cwola", "cathode", "vae_qr", "tnt", "quak")


@pytest.fixture(scope="module")
def suite() -> ModuleType:
    return load_script("suite")


def toy_args(out: Path, points: str = "2,0") -> list[str]:
    return [
        "--toy",
        "--toy-events",
        "12000",
        "--methods",
        ",".join(METHODS),
        "--seeds",
        "1",
        "--points",
        points,
        "--folds",
        "3",
        "--output",
        str(out),
    ]


@pytest.fixture(scope="module")
def toy_run(suite: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("suite")
    return out, suite.main(toy_args(out))


def test_toy_run_writes_table_json_and_plots(toy_run: tuple[Path, dict]) -> None:
    out, payload = toy_run
    assert payload["methods"] == list(METHODS)
    assert not payload["summary"]["errors"]
    saved = json.loads((out / "results.json").read_text())
    rows = saved["summary"]["rows"]
    assert [r["point"] for r in rows] == [2.0, 0.0]
    for row in rows:
        for name in ("iad", "supervised", *METHODS):
            assert row[name]["max_sic"]["n"] == 1
        assert "over_iad" in row["cwola"]
        chain = {f"{e}@{low}" for e in ("0.01", "0.001") for low in ("2700", "3000")}
        assert set(row["cathode"]["full_chain_z"]) == chain
    # the toy signal is easy: the references and CWoLa find it at S/sqrt(B) = 2
    assert rows[0]["supervised"]["max_sic"]["median"] > 3
    assert rows[0]["iad"]["max_sic"]["median"] > 2
    assert rows[0]["inclusive_z"]["2700"]["n"] == 1
    for name in ("cwola", "cathode"):
        cost = saved["summary"]["cost"][name]
        assert cost["train_wall_s"]["median"] > 0 and cost["peak_rss_mb"]["median"] > 50
    table = (out / "table.md").read_text()
    assert "| S/sqrt(B) | S in SR | IAD | " + " | ".join(METHODS) + " | supervised |" in table
    assert "Full chain" in table and "Cost per task" in table
    for name in saved["plots"]:
        assert (out / name).stat().st_size > 1000
    assert {"max_sic_vs_point_baseline.png", "sic_curves_baseline.png"} <= set(saved["plots"])
    # 1 supervised + 2 points x (iad + each method)
    assert len(list((out / "tasks").glob("*.json"))) == 1 + 2 * (1 + len(METHODS))
    # the global VAE-QR trains on every event, without a signal region
    vae = json.loads((out / "tasks" / "baseline__vae_qr__p2__s0.json").read_text())
    assert vae["region"] is None and vae["train_events"] > vae["background_in_sr"]
    assert "fit" not in vae  # VAE-QR reports nothing about its fit
    # CATHODE's record holds each fold's fit summary: every feature kept (no screen)
    cathode = json.loads((out / "tasks" / "baseline__cathode__p2__s0.json").read_text())
    assert len(cathode["fit"]) == 3
    assert all(f["features"] == ["mj2", "delta_mj", "tau21_j2", "tau21_j1"] for f in cathode["fit"])
    # QUAK's prior is a toy signal sample the suite wrote for the toy run
    quak = json.loads((out / "tasks" / "baseline__quak__p2__s0.json").read_text())
    assert [Path(p).name for p in quak["options"]["priors"]] == ["toy_prior_x450_y120.h5"]


def test_a_second_run_resumes(suite: ModuleType, toy_run: tuple[Path, dict]) -> None:
    out, _ = toy_run
    tasks = out / "tasks"
    before = {p.name: p.stat().st_mtime_ns for p in tasks.glob("*.json")}
    # one more point: only its tasks run, the finished ones are read back
    payload = suite.main([*toy_args(out, "2,0,1"), "--methods", "cwola", "--no-plots"])
    assert payload["tasks"] == {"total": 7, "run": 2, "reused": 5}
    after = {p.name: p.stat().st_mtime_ns for p in tasks.glob("*.json")}
    assert all(after[name] == t for name, t in before.items())
    assert {"baseline__iad__p1__s0.json", "baseline__cwola__p1__s0.json"} <= set(after)
    # changed method settings rerun that method's tasks only
    payload = suite.main(
        [
            *toy_args(out, "2"),
            "--methods",
            "cwola",
            "--no-plots",
            "--method-options",
            '{"cwola": {"options": {"n_models": 2}}}',
        ]
    )
    assert payload["tasks"] == {"total": 3, "run": 1, "reused": 2}
    # the seed count of a method does not change its tasks: nothing reruns
    options = '{"cwola": {"seeds": 1, "options": {"n_models": 2}}}'
    payload = suite.main(
        [*toy_args(out, "2"), "--methods", "cwola", "--no-plots", "--method-options", options]
    )
    assert payload["tasks"] == {"total": 3, "run": 0, "reused": 3}


def test_method_settings_and_variants(suite: ModuleType) -> None:
    args = suite.parse_args(["--toy", "--method-options", '{"cathode": {"seeds": 1}}'])
    cathode = suite.method_settings(args, "cathode")
    assert cathode["sidebands"] == "wide" and cathode["seeds"] == 1
    assert suite.method_region(cathode).sb_high == float("inf")
    assert suite.method_region(suite.method_settings(args, "cwola")).sb_low == 3100.0
    from casehunt.plugins import get_registry

    cls = get_registry().method("cwola")
    opts = suite.method_options(args, cls, "noise3", suite.method_settings(args, "cwola"))
    assert opts["features"][-3:] == ["noise_0", "noise_1", "noise_2"]
    tasks = suite.build_tasks(
        suite.parse_args(
            ["--seeds", "2", "--points", "1", "--method-options", '{"cathode": {"seeds": 1}}']
        ),
        ["cwola", "cathode"],
    )
    kinds = [(t["kind"], t["seed"]) for t in tasks]
    assert ("cathode", 0) in kinds and ("cathode", 1) not in kinds and ("cwola", 1) in kinds
    with pytest.raises(SystemExit):
        suite.method_settings(
            suite.parse_args(["--method-options", '{"cwola": {"x": 1}}']), "cwola"
        )
