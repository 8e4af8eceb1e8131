"""Shared fixtures: small toy files in the casehunt HDF5 layout, and a demo-like config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from casehunt.toys import write_toy_file


@pytest.fixture(scope="session")
def toy_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("toys")
    return {
        "data": write_toy_file(d / "data.h5", 12_000, seed=1),
        "signal": write_toy_file(d / "signal.h5", 2_000, signal=True, seed=2),
    }


def make_config(toy_files: dict[str, Path], **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "run": {"name": "toy", "seed": 3, "n_folds": 3},
        "input": {"data": str(toy_files["data"])},
        "preselection": {"mjj_min": 2600},
        "regions": {"windows": [[3300, 3700]], "sideband_width": 300},
        "injection": {"signal": str(toy_files["signal"]), "n_events": 300, "signal_mass": 3500},
        "selection": {"efficiency": 0.05},
        "methods": {"template": {}},
        "statistics": {},
        "output": {"plots": False, "statistics": False},
    }
    for section, values in overrides.items():
        if values is None:
            config.pop(section, None)
        else:
            config[section] = {**config.get(section, {}), **values}
    return config


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path
