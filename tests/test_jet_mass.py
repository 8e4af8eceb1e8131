"""A run with a jet mass as the resonant feature finds a signal localised in jet mass.

The toy signal's heavier jet has the X mass (500 GeV), so it is a bump in mj1; the
regions, injection, selection and statistics (exponential polynomial) are all in mj1,
and the method sees only other features (as in the jet-mass bump hunt of CATHODE on
gluino cascades, Bickendorf et al., arXiv:2309.12918, Phys. Rev. D 109, 096031).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from conftest import make_config, write_config

from casehunt.cli import main
from casehunt.toys import write_toy_file


@pytest.fixture(scope="module")
def jet_mass_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("jet_mass_toys")
    return {
        "data": write_toy_file(d / "data.h5", 60_000, seed=11),
        "signal": write_toy_file(d / "signal.h5", 2_000, signal=True, seed=12, mx=500.0),
    }


def _config(files: dict[str, Path], injection: dict[str, Any] | None) -> dict[str, Any]:
    return make_config(
        files,
        regions={"resonant_feature": "mj1", "windows": [[440, 560]], "sideband_width": 100},
        injection=injection,
        methods={"template": {"features": ["tau21_j1", "tau21_j2"]}},
        selection={"efficiency": 0.05},
        statistics={
            "fit_range": [200, 1000],
            "n_params": [2, 3, 4, 5],
            "mass_hypotheses": {"start": 300, "stop": 800, "step": 20},
            "resolution": 0.06,
            "compute_limits": False,
        },
        output={"statistics": True},
    )


def _run(tmp_path: Path, config: dict[str, Any], name: str) -> Path:
    out = tmp_path / name
    cfg = write_config(tmp_path / f"{name}.yaml", config)
    assert main(["run", str(cfg), "--output", str(out), "--no-progress"]) == 0
    return out


def test_injected_signal_is_found_at_its_jet_mass(
    tmp_path: Path, jet_mass_files: dict[str, Path]
) -> None:
    injection = {"signal": str(jet_mass_files["signal"]), "n_events": 150, "signal_mass": 500}
    out = _run(tmp_path, _config(jet_mass_files, injection), "signal")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["statistics"]["background"] == "exppoly"  # chosen for mj1

    with h5py.File(out / "template/sr_440_560/scores.h5") as f:
        assert f.attrs["resonant_feature"] == "mj1"
        mj1, injected, selected = f["mjj"][:], f["injected"][:], f["selected"][:]
    sr = (mj1 >= 440) & (mj1 < 560)
    eff_signal = selected[sr & injected].mean()
    eff_background = selected[sr & ~injected].mean()
    assert eff_signal > 8 * eff_background, (eff_signal, eff_background)
    for name in ("inclusive.h5", "signal_templates.h5", "template/selection.h5"):
        with h5py.File(out / name) as f:
            assert f.attrs["resonant_feature"] == "mj1", name

    stats = json.loads((out / "stats/template.json").read_text())
    assert stats["resonant_feature"] == "mj1"
    region = stats["regions"]["sr_440_560"]
    assert region["status"] == "ok"
    assert region["fit"]["background"] == "exppoly"
    assert abs(region["scan"]["max_z_mass"] - 500) <= 20
    assert region["scan"]["max_z"] > 4
    # the signal shape was fitted to the injected signal's mj1 (the 500 GeV template)
    assert stats["signal_model"]["kind"] == "dscb"
    assert "500" in stats["signal_model"]["shapes"]
    # the reviewer rerun reproduces it from the saved files
    (out / "stats/template.json").unlink()
    assert main(["stats", "rerun", str(out), "--no-plots"]) == 0
    again = json.loads((out / "stats/template.json").read_text())
    assert again["regions"]["sr_440_560"]["scan"] == region["scan"]


def test_background_only_gives_no_significant_excess(
    tmp_path: Path, jet_mass_files: dict[str, Path]
) -> None:
    out = _run(tmp_path, _config(jet_mass_files, None), "background")
    region = json.loads((out / "stats/template.json").read_text())["regions"]["sr_440_560"]
    assert region["status"] == "ok"
    assert region["fit"]["chi2_pvalue"] > 0.01
    assert region["scan"]["max_z"] < 3
    assert np.isfinite(region["scan"]["max_z"])
