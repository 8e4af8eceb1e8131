"""Shared toy spectra and a small results directory for the casehunt-stats tests."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from casehunt_stats.toys import sample_dijet

TRUTH3 = (1.0, 10.0, 5.0)
RANGE = (1500.0, 6000.0)


@pytest.fixture(scope="session")
def bkg_mjj() -> np.ndarray:
    """30 000 events from a 3-parameter dijet function, 1.5-6 TeV."""
    return sample_dijet(TRUTH3, 30000, RANGE, np.random.default_rng(11))


@pytest.fixture(scope="session")
def bump_mjj(bkg_mjj) -> np.ndarray:
    """The background plus 250 Gaussian signal events at 3 TeV (width 150 GeV)."""
    sig = np.random.default_rng(12).normal(3000.0, 150.0, 250)
    return np.concatenate([bkg_mjj, sig])


def write_results_dir(path: Path, *, with_templates: bool = True) -> Path:
    """A minimal framework results directory: manifest, inclusive, one method, templates."""
    rng = np.random.default_rng(5)
    path.mkdir(parents=True, exist_ok=True)
    inclusive = sample_dijet(TRUTH3, 20000, (1460.0, 6000.0), rng)
    with h5py.File(path / "inclusive.h5", "w") as fh:
        fh["mjj"] = inclusive
    (path / "toy_method").mkdir()
    with h5py.File(path / "toy_method" / "selection.h5", "w") as fh:
        fh.attrs["method"] = "toy_method"
        fh.attrs["format_version"] = 1
        for name, lo, hi, n in (
            ("sr_2800_3300", 2800.0, 3300.0, 3000),
            ("sr_5000_5500", 5000.0, 5500.0, 20),
        ):
            sel = rng.choice(inclusive, size=n, replace=False)
            if name == "sr_2800_3300":
                sel = np.concatenate([sel, rng.normal(3000.0, 150.0, 60)])
            g = fh.create_group(name)
            g["mjj"] = sel
            g["score"] = rng.random(sel.size)
            g["event_id"] = np.arange(sel.size, dtype=np.int64)
            g.attrs.update(efficiency=0.1, threshold=0.9, sr_low=lo, sr_high=hi,
                           sb_low=lo * 0.8, sb_high=hi * 1.2)  # fmt: skip
    if with_templates:
        with h5py.File(path / "signal_templates.h5", "w") as fh:
            for m in (2000, 3000, 4000):
                fh.create_group(str(m))["mjj"] = rng.normal(0.98 * m, 0.05 * m, 3000)
    stats_cfg = {"mass_hypotheses": [2400.0, 3000.0], "min_events": 50}
    (path / "manifest.json").write_text(json.dumps({"config": {"statistics": stats_cfg}}))
    return path


@pytest.fixture
def results_dir(tmp_path) -> Path:
    return write_results_dir(tmp_path / "run")
