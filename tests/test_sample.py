"""casehunt.sample.read_simulated: the cached reader of SALAD's simulation and QUAK's priors."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from casehunt.errors import InputError
from casehunt.sample import clear_simulated_cache, read_simulated
from casehunt.toys import write_toy_file


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_simulated_cache()
    yield
    clear_simulated_cache()


@pytest.fixture
def simulated(tmp_path):
    return write_toy_file(tmp_path / "sim.h5", 2000, seed=3, n_constituents=8)


def test_derives_and_preselects(simulated):
    everything = read_simulated(simulated, preselect=False)
    kept = read_simulated(simulated)
    assert everything.n_events == 2000
    assert 0 < kept.n_events < everything.n_events
    # derived columns of the plugins are there, as for data
    assert {"mjj", "mj1", "delta_mj"} <= set(kept.columns)
    # the default CASE cuts hold on what is kept
    assert np.all(np.abs(kept["jet_eta"]) < 2.5)


def test_reads_once_until_the_file_changes(simulated):
    first = read_simulated(simulated)
    assert read_simulated(simulated) is first
    write_toy_file(simulated, 1500, seed=4)  # rewritten: new size and time
    again = read_simulated(simulated, preselect=False)
    assert again is not first
    assert again.n_events == 1500


def test_skipped_columns_are_not_read(simulated):
    with_const = read_simulated(simulated, preselect=False)
    without = read_simulated(simulated, preselect=False, skip_columns={"jet_const"})
    assert "jet_const" in with_const.columns
    assert "jet_const" not in without.columns
    np.testing.assert_array_equal(with_const["mjj"], without["mjj"])


def test_nan_names_the_file_and_column(tmp_path):
    path = write_toy_file(tmp_path / "bad.h5", 500, seed=5)
    with h5py.File(path, "r+") as f:
        pt = f["jet_pt"][...]
        pt[7, 0] = np.nan
        f["jet_pt"][...] = pt
    with pytest.raises(InputError, match=r"bad\.h5.*'jet_pt'"):
        read_simulated(path)
