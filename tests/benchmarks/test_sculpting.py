"""benchmarks/sculpting.py: the selected background fraction per mjj bin, on known scores."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from .conftest import load_script


@pytest.fixture(scope="module")
def sculpting() -> ModuleType:
    return load_script("sculpting")


def background(n: int = 400_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A falling mjj spectrum over 2.9-4.5 TeV and an independent uniform score."""
    rng = np.random.default_rng(seed)
    mjj = 2900.0 + rng.exponential(400.0, size=4 * n)
    mjj = mjj[mjj < 4500.0][:n]
    return mjj, rng.uniform(size=len(mjj))


def test_a_score_independent_of_mjj_selects_the_target_fraction_everywhere(
    sculpting: ModuleType,
) -> None:
    mjj, score = background()
    p = sculpting.profile(score, mjj, np.zeros(len(mjj)), 0.01, sculpting.DEFAULT_EDGES)
    assert np.allclose(p["ratio"], 1.0, atol=0.15)
    assert abs(p["pull_flat"]) < 3 and abs(p["pull_line"]) < 3


def test_a_score_rising_with_mjj_rises_smoothly_and_a_bump_shows_in_the_pull(
    sculpting: ModuleType,
) -> None:
    mjj, u = background()
    labels = np.zeros(len(mjj))
    # the selected fraction grows by 0.002 per 200 GeV bin, about 0.5 to 1.9 times 1%
    rising = sculpting.profile(u + mjj / 1e5, mjj, labels, 0.01, sculpting.DEFAULT_EDGES)
    ratio = np.array(rising["ratio"])
    assert ratio[0] < 0.8 and ratio[-1] > 1.5
    assert np.corrcoef(np.arange(len(ratio)), ratio)[0, 1] > 0.95
    assert rising["low_sideband"] < 1.0 < rising["high_sideband"]
    # a score that prefers the signal region's mjj: an excess that no sideband predicts
    bump = u + 0.02 * ((mjj > 3300.0) & (mjj < 3700.0))
    sr = sculpting.profile(bump, mjj, labels, 0.01, sculpting.DEFAULT_EDGES)
    assert sr["pull_flat"] > 10 and sr["pull_line"] > 10
    # signal events (label 1) are left out of the profile: here every second one in the SR
    in_sr = (mjj > 3300.0) & (mjj < 3700.0)
    labels = in_sr & (np.arange(len(mjj)) % 2 == 0)
    half = sculpting.profile(bump, mjj, labels, 0.01, sculpting.DEFAULT_EDGES)
    assert abs(half["sr_selected"] / sr["sr_selected"] - 0.5) < 0.1


def test_main_reads_a_suite_output(sculpting: ModuleType, tmp_path: Path, capsys) -> None:
    mjj, score = background(100_000)
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    np.savez(
        tasks / "baseline__cwola__p0__s0.npz", scores=score, mjj=mjj, labels=np.zeros(len(mjj))
    )
    record = {"kind": "cwola", "variant": "baseline", "point": 0.0, "seed": 0, "error": None}
    (tasks / "baseline__cwola__p0__s0.json").write_text(json.dumps(record))
    sculpting.main([str(tmp_path), "--efficiencies", "0.01", "--plot", str(tmp_path / "s.png")])
    out = capsys.readouterr().out
    assert "| baseline | cwola | 0 | 0.01 | 1 |" in out
    assert (tmp_path / "s.png").stat().st_size > 1000


def test_an_output_without_scores_is_an_error(sculpting: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    with pytest.raises(SystemExit, match="no method scores"):
        sculpting.main([str(tmp_path)])
