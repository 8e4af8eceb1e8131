"""benchmarks/random_null.py: the local Z of random selections, on a toy dijet spectrum."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from .conftest import load_script


@pytest.fixture(scope="module")
def random_null() -> ModuleType:
    return load_script("random_null")


def spectrum(rng: np.random.Generator, n: int) -> np.ndarray:
    """A smooth falling mjj spectrum above 3 TeV (a power law, as QCD dijets roughly)."""
    mjj = 3000.0 * rng.uniform(size=2 * n) ** (-1.0 / 6.0)
    return mjj[mjj < 7000.0][:n]


def test_random_selections_of_background_are_centred_and_a_bump_in_all_events_shows(
    random_null: ModuleType,
) -> None:
    from casehunt_stats import SignalShape

    rng = np.random.default_rng(3)
    shape = SignalShape.gaussian(3500.0, 0.05)
    background = spectrum(rng, 200_000)
    z0 = random_null.null_distribution(background, shape, 0.05, (3000.0, 7000.0), 30, rng, (0, 0))
    assert abs(np.mean(z0)) < 0.6 and 0.5 < np.std(z0) < 1.6
    # every event carries a 3.5 TeV bump: random 5% selections keep a share of it
    bump = np.concatenate([background, rng.normal(3500.0, 175.0, size=12000)])
    z1 = random_null.null_distribution(bump, shape, 0.05, (3000.0, 7000.0), 10, rng, (0, 0))
    assert np.median(z1) > 3.0


def test_method_z_reads_the_suite_tasks_of_one_point_and_seed(
    random_null: ModuleType, tmp_path: Path
) -> None:
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    for seed, z in ((0, 1.5), (1, -0.5)):
        record = {"kind": "cwola", "variant": "baseline", "full_chain": {"0.01@3000": {"z": z}}}
        (tasks / f"baseline__cwola__p0__s{seed}.json").write_text(json.dumps(record))
    assert random_null.method_z(tmp_path, 0.0, 1, "0.01@3000") == {"baseline/cwola": -0.5}
    assert random_null.method_z(tmp_path, 0.0, 0, "0.001@3000") == {}
