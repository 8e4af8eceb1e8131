"""Every method plugin of the repository in one `casehunt run`, as a coordinator runs them.

Tiny training settings on toy files: this checks that the core drives per-region and
global methods alike (k-folding, sideband thresholds, saved scores, statistics), not
how well they do (each plugin's tests and the benchmark suite do that).
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import make_config, write_config

from casehunt.cli import main
from casehunt.toys import write_toy_file

TINY_FLOW = {"type": "maf", "transforms": 1, "hidden": [8], "epochs": 2}
TINY_OPTIONS = {
    "cwola": {"n_models": 1, "classifier_options": {"max_iter": 30}},
    "cathode": {
        "training_sidebands": "all",
        "flow_type": "maf",
        "flow_transforms": 1,
        "flow_hidden": [8],
        "flow_epochs": 2,
        "flow_n_best_epochs": 1,
        "oversampling": 1.0,
        "n_models": 1,
        "classifier_options": {"max_iter": 30},
    },
    "vae_qr": {
        "inputs": "features",
        "epochs": 2,
        "hidden": [8],
        "qr_quantiles": [0.5, 0.9],
        "progress": False,
    },
    "tnt": {
        "ae_hidden": [8],
        "ae_epochs": 2,
        "n_models": 1,
        "classifier_options": {"max_iter": 30},
        "progress": False,
    },
    "quak": {
        "training_sidebands": "all",
        "background_flow": TINY_FLOW,
        "prior_flow": TINY_FLOW,
        "n_bins": 10,
    },
    "vrnn": {"n_constituents": 8, "hidden": 8, "epochs": 2, "progress": False},
}


@pytest.fixture(scope="module")
def all_methods_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    d = tmp_path_factory.mktemp("all_methods")
    # with constituents, for the VRNN tagger: the same toy events, jet_const added
    toy_files = {
        "data": write_toy_file(d / "data.h5", 12_000, seed=1, n_constituents=8),
        "signal": write_toy_file(d / "signal.h5", 2_000, signal=True, seed=2, n_constituents=8),
    }
    prior = write_toy_file(d / "prior.h5", 2_000, signal=True, seed=9, mx=400.0, my=150.0)
    methods = {name: dict(options) for name, options in TINY_OPTIONS.items()}
    methods["quak"]["priors"] = [str(prior)]
    config = make_config(
        toy_files,
        methods=methods,
        output={"plots": False, "statistics": True},
        statistics={"fit_range": [2600, 6000]},
    )
    config["methods"] = methods  # replace the default method, not merge into it
    out = d / "out"
    code = main(["run", str(write_config(d / "c.yaml", config)), "--output", str(out)])
    return code, out


def test_every_method_runs_and_is_selected_at_its_efficiency(
    all_methods_run: tuple[int, Path],
) -> None:
    code, out = all_methods_run
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    for name in TINY_OPTIONS:
        with h5py.File(out / name / "sr_3300_3700" / "scores.h5") as f:
            score, mjj, fold = f["score"][:], f["mjj"][:], f["fold"][:]
            selected = f["selected"][:]
        assert np.isfinite(score).all(), name
        assert set(np.unique(fold)) == {0, 1, 2}, name
        sb = ((mjj >= 3000) & (mjj < 3300)) | ((mjj >= 3700) & (mjj < 4000))
        assert 0.01 < selected[sb].mean() < 0.12, name  # 5% asked, few sideband events
        assert (out / "stats" / f"{name}.json").is_file(), name
    assert set(summary["timings"]) >= {f"{name}_s" for name in TINY_OPTIONS}
