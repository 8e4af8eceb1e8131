"""SALAD from a configuration file through `casehunt run`, as a user runs it."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import yaml
from salad_toys import MISMODELLING

from casehunt.cli import main
from casehunt.toys import write_toy_file


def test_casehunt_run_with_a_simulation_file(tmp_path: Path) -> None:
    data = write_toy_file(tmp_path / "data.h5", 12_000, seed=1)
    signal = write_toy_file(tmp_path / "signal.h5", 2_000, signal=True, seed=2)
    sim = write_toy_file(tmp_path / "sim.h5", 24_000, seed=3, **MISMODELLING)
    config = {
        "run": {"name": "toy", "seed": 3, "n_folds": 3},
        "input": {"data": str(data)},
        "preselection": {"mjj_min": 2600},
        "regions": {"windows": [[3300, 3700]], "sideband_width": 300},
        "injection": {"signal": str(signal), "n_events": 300, "signal_mass": 3500},
        "selection": {"efficiency": 0.05},
        "methods": {
            "salad": {
                "simulation": str(sim),
                "n_models": 1,
                "classifier_options": {"max_iter": 30},
                "training_sidebands": "all",
            }
        },
        "output": {"plots": False, "statistics": False},
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    assert main(["run", str(path), "--output", str(out)]) == 0
    with h5py.File(out / "salad" / "sr_3300_3700" / "scores.h5") as f:
        score, mjj, selected = f["score"][:], f["mjj"][:], f["selected"][:]
    assert np.isfinite(score).all()
    sb = ((mjj >= 3000) & (mjj < 3300)) | ((mjj >= 3700) & (mjj < 4000))
    assert 0.01 < selected[sb].mean() < 0.12  # 5% asked, few sideband events
