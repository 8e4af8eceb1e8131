"""The self-contained HTML report of a run and of a campaign, rebuilt from JSON alone."""

from __future__ import annotations

import argparse
import base64
import html
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import make_config

from casehunt.config import Config
from casehunt.pipeline import run_analysis
from casehunt.report import _fold_model_lines
from casehunt.report_html import add_export_parser, write_campaign_report, write_html_report

RUN_SECTIONS = (
    "Preselection cutflow",
    "Signal injection",
    "Selections",
    "Background fits",
    "Significance scans",
    "Limits",
    "Timings",
    "Provenance",
)
VOID = {"meta", "img", "br", "hr", "input", "link", "col", "wbr", "source"}


class Checker(HTMLParser):
    """Checks that every element is closed in order; collects headings and attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.headings: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.errors: list[str] = []
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        if tag not in VOID:
            self.stack.append(tag)
        if tag in ("h1", "h2", "h3"):
            self._in_heading = True
            self.headings.append("")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()
        if tag in ("h1", "h2", "h3"):
            self._in_heading = False

    def handle_data(self, data: str) -> None:
        if self._in_heading:
            self.headings[-1] += data


def parse(text: str) -> Checker:
    checker = Checker()
    checker.feed(text)
    checker.close()
    assert not checker.errors, checker.errors[:5]
    assert not checker.stack, f"unclosed: {checker.stack}"
    return checker


def assert_self_contained(text: str, checker: Checker) -> None:
    assert "<script" not in text.lower()
    for tag, key, value in checker.attrs:
        if key in ("src", "href"):
            assert not value.lower().startswith(("http:", "https:", "//")), (tag, key, value)
        if key == "src":
            assert value.startswith("data:image/png;base64,"), value[:40]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, toy_files: dict[str, Path]) -> Path:
    config = make_config(
        toy_files,
        output={"statistics": True, "plots": True},
        statistics={
            "fit_range": [2700, 6000],
            "mass_hypotheses": [3450, 3550],
            "global_toys": 3,
            "luminosity": 138.0,
            "signal_efficiency": 0.1,
        },
    )
    out = tmp_path_factory.mktemp("html") / "run"
    run_analysis(Config(config), out, progress=False)
    return out


def copy_of(run_dir: Path, tmp_path: Path) -> Path:
    """The JSON and plots of a run (the report needs nothing else)."""
    dst = tmp_path / "copy"
    dst.mkdir()
    for name in ("manifest.json", "cutflow.json", "summary.json"):
        shutil.copy(run_dir / name, dst / name)
    shutil.copytree(run_dir / "stats", dst / "stats")
    shutil.copytree(run_dir / "plots", dst / "plots")
    return dst


def test_run_report_written_by_the_hook_with_the_numbers_of_the_json(run_dir: Path) -> None:
    text = (run_dir / "report.html").read_text()
    checker = parse(text)
    assert_self_contained(text, checker)
    assert checker.headings[0] == "casehunt run toy"
    for title in RUN_SECTIONS:
        assert title in checker.headings

    summary = json.loads((run_dir / "summary.json").read_text())
    sel = summary["selections"]["template"]["sr_3300_3700"]
    assert f"<td>{sel['n_selected']}</td>" in text
    kept = f"{sel['injected_selected_signal_region']} of {sel['injected_signal_region']}"
    assert kept in text
    stats = json.loads((run_dir / "stats/template.json").read_text())
    region = stats["regions"]["sr_3300_3700"]
    scan = region["scan"]
    assert f"<td>{scan['max_z']:.2f}</td><td>{scan['max_z_mass']:.0f}</td>" in text
    assert f"{region['fit']['chi2']:.1f} / {region['fit']['ndof']}" in text
    limit = region["limits"][0]
    assert f"<td>{limit['observed_yield']:.4g}</td>" in text
    glob = stats["global"]
    assert f"<td>{glob['p_value']:.3g} ± {glob['p_err']:.2g}</td>" in text
    assert f"<td>{limit['expected_xsec_fb'][2]:.4g}</td>" in text
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert all(i["sha256"] in text for i in manifest["inputs"])
    assert "<details><summary>The full configuration (YAML)</summary>" in text

    pngs = sorted((run_dir / "plots").glob("*.png"))
    assert {p.name for p in pngs} >= {"mjj_template.png", "stats_template_sr_3300_3700.png"}
    for png in pngs:
        assert "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode() in text


def test_fold_models_show_each_fold_s_fit_summary(run_dir: Path, tmp_path: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    fits = summary["selections"]["template"]["sr_3300_3700"]["fit"]
    text = (run_dir / "report.html").read_text()
    assert "Fold models" in parse(text).headings
    rows = "".join(
        f"<tr><td>{i}</td><td>{f['reference_events']}</td></tr>" for i, f in enumerate(fits)
    )
    assert "<th>fold</th><th>reference_events</th>" in text and rows in text
    markdown = (run_dir / "report.md").read_text()
    assert "## Fold models" in markdown
    assert f"| 0 | {fits[0]['reference_events']} |" in markdown

    # lists of scalars are one cell; nested objects go to a JSON block; text is escaped
    d = copy_of(run_dir, tmp_path)
    sel = summary["selections"]["template"]["sr_3300_3700"]
    sel["fit"] = [
        {"features": ["mj1", "<b>tau21</b>"], "screen": [{"kept": ["mj1"]}]},
        {"features": ["mj1"]},
    ]
    (d / "summary.json").write_text(json.dumps(summary))
    text = write_html_report(d).read_text()
    parse(text)
    assert "<tr><td>0</td><td>mj1, &lt;b&gt;tau21&lt;/b&gt;</td></tr>" in text
    assert "<details><summary>Per fold: screen (JSON)</summary>" in text
    assert "&quot;kept&quot;" in text

    # without any summary the section is left out
    del sel["fit"]
    (d / "summary.json").write_text(json.dumps(summary))
    assert "Fold models" not in parse(write_html_report(d).read_text()).headings


def test_hostile_text_is_escaped(run_dir: Path, tmp_path: Path) -> None:
    d = copy_of(run_dir, tmp_path)
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["config"]["run"]["name"] = "<script>alert('x')</script>"
    manifest["inputs"][0]["path"] = '/data/"><img src=x onerror=alert(1)>.h5'
    (d / "manifest.json").write_text(json.dumps(manifest))
    text = write_html_report(d).read_text()
    checker = parse(text)
    assert_self_contained(text, checker)
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "onerror" not in {key for _, key, _ in checker.attrs}


def test_missing_stats_and_a_failed_fit_are_reported(run_dir: Path, tmp_path: Path) -> None:
    d = copy_of(run_dir, tmp_path)
    stats = json.loads((d / "stats/template.json").read_text())
    reason = "too few events to fit: 12 < min_events=50"
    stats["regions"]["sr_3300_3700"] = {"status": "failed", "n_selected": 12, "reason": reason}
    (d / "stats/template.json").write_text(json.dumps(stats))
    text = write_html_report(d).read_text()
    parse(text)
    assert html.escape(f"failed: {reason}") in text
    assert html.escape(f"no limits: {reason}") in text

    shutil.rmtree(d / "stats")
    (d / "summary.json").unlink()
    text = write_html_report(d, d / "other.html").read_text()
    checker = parse(text)
    assert "no stats/ folder" in text
    assert "summary.json is missing" in text
    for title in RUN_SECTIONS:
        assert title in checker.headings


def example_campaign() -> dict[str, Any]:
    """Two methods and the inclusive search, 3 levels in fb, 2 seeds, one failed task."""
    levels, seeds = [0.5, 1.0, 2.0], [11, 12]
    slopes = {"cwola": 4.8, "cathode": 2.9, "inclusive": 0.75}
    xsec = {  # signal needed (fb): per seed, median
        "cwola": ([0.60, 0.64], [1.02, 1.08], [0.41, 0.45]),
        "cathode": ([1.05, 1.15], [1.8, 2.0], [0.7, None]),  # seed 12 failed at level 2
        "inclusive": ([4.1, 4.3], [6.9, 7.3], [2.4, 2.6]),
    }
    results: dict[str, Any] = {}
    for name, slope in slopes.items():
        points = []
        for level in levels:
            for i, seed in enumerate(seeds):
                failed = name == "cathode" and level == 2.0 and seed == 12
                points.append(
                    {
                        "level": level,
                        "seed": seed,
                        "signal_efficiency": 1.0 if name == "inclusive" else 0.31 + 0.01 * i,
                        "n_selected": 12000 if name == "inclusive" else 590 + 7 * i,
                        "expected_signal": round(level * 138.0 * 0.3, 3),
                        "asimov_z": None if failed else round(slope * level * (1 + 0.05 * i), 4),
                        "excluded_xsec": None if failed else 0.4 + 0.1 * i,
                        "status": "failed" if failed else "ok",
                        "reason": "training diverged (loss is nan)" if failed else None,
                    }
                )
        s3, s5, lim = xsec[name]
        results[name] = {
            "points": points,
            "xsec_3sigma": {"median": sum(s3) / 2, "per_seed": s3},
            "xsec_5sigma": {"median": sum(s5) / 2, "per_seed": s5},
            "calibrated_limit": {
                "median": lim[0] if lim[1] is None else sum(lim) / 2,
                "per_seed": lim,
            },
        }
    for res in results.values():  # as casehunt.campaign writes them
        for level in ("3sigma", "5sigma"):
            ratio = res[f"xsec_{level}"]["median"] / results["inclusive"][f"xsec_{level}"]["median"]
            res[f"ratio_{level}_to_inclusive"] = ratio  # method / inclusive
            res[f"improvement_{level}"] = 1.0 / ratio  # times less signal than inclusive
    tb = 'Traceback (most recent call last):\n  File "<module>", line 1\nFloatingPointError: nan'
    return {
        "name": "m3500 <sensitivity>",
        "signal_mass": 3500.0,
        "unit": "fb",
        "luminosity_fb": 138.0,
        "methods": ["cwola", "cathode"],
        "levels": levels,
        "seeds": seeds,
        "results": results,
        "tasks": {
            "total": 18,
            "computed": 11,
            "reused": 6,
            "failed": [
                {
                    "task": "cathode/level=2/seed=12",
                    "error": "FloatingPointError: nan",
                    "traceback": tb,
                }
            ],
        },
        "timings": {"total_s": 812.4, "training_s": 640.2, "statistics_s": 150.9},
        "runs": {"cwola_l1_s11": "runs/cwola_l1_s11"},
        "manifest": {
            "format_version": 1,
            "created": "2025-01-02T03:04:05+00:00",
            "command": ["casehunt", "campaign", "c.yaml"],
            "config": {"run": {"name": "m3500", "seed": 11}},
            "seeds": {"run": 11},
            "inputs": [
                {"path": "data.h5", "sha256": "ab" * 32, "bytes": 10, "events": 5, "role": "input"}
            ],
            "versions": {"casehunt": "0.1.0"},
            "python": "3.11.7",
            "platform": "Linux",
            "git_revision": None,
        },
    }


@pytest.fixture
def campaign_dir(tmp_path: Path) -> Path:
    d = tmp_path / "campaign"
    (d / "runs/cwola_l1_s11").mkdir(parents=True)
    (d / "campaign.json").write_text(json.dumps(example_campaign()))
    return d


def test_campaign_report(campaign_dir: Path) -> None:
    campaign = example_campaign()
    text = write_campaign_report(campaign_dir).read_text()
    checker = parse(text)
    assert_self_contained(text, checker)
    assert "casehunt campaign m3500 &lt;sensitivity&gt;" in text
    for title in ("Discovery sensitivity", "Significance against injected signal", "Tasks"):
        assert title in checker.headings
    for method in ("cwola", "cathode"):
        res = campaign["results"][method]
        assert f"<td>{res['improvement_3sigma']:.3g}×</td>" in text
        assert f"<td>{res['improvement_5sigma']:.3g}×</td>" in text
        assert f"<td>{res['xsec_5sigma']['median']:.4g}</td>" in text
    failed = campaign["tasks"]["failed"][0]
    assert failed["task"] in text
    assert "File &quot;&lt;module&gt;&quot;, line 1" in text  # the traceback, escaped
    assert "<details><summary>traceback of cathode/level=2/seed=12</summary>" in text
    assert "training diverged (loss is nan)" in text
    for name in ("discovery.png", "significance_vs_injection.png"):
        png = campaign_dir / "plots" / name
        assert "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode() in text


def test_report_command_detects_run_and_campaign(
    run_dir: Path, campaign_dir: Path, tmp_path: Path
) -> None:
    parser = argparse.ArgumentParser()
    add_export_parser(parser.add_subparsers(dest="command"))
    d = copy_of(run_dir, tmp_path)
    for directory, marker in ((d, "casehunt run toy"), (campaign_dir, "casehunt campaign")):
        (directory / "report.html").unlink(missing_ok=True)
        args = parser.parse_args(["report", str(directory)])
        assert args.func(args) == 0
        assert marker in (directory / "report.html").read_text()


def test_markdown_fold_table_keeps_one_row_per_fold() -> None:
    fits = [{"note": "a|b\nc", "n": 3}, {"n": 4}]
    lines = _fold_model_lines({"m": {"sr": {"fit": fits}}})
    rows = [line for line in lines if line.startswith("| ")]
    assert rows == ["| fold | note | n |", "| 0 | a\\|b c | 3 |", "| 1 | – | 4 |"]
