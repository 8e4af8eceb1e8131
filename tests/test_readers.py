from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from casehunt.errors import InputError, PluginError
from casehunt.readers import HDF5Reader, open_events


def test_reads_in_chunks_the_same_as_at_once(toy_files: dict[str, Path]) -> None:
    reader = HDF5Reader(toy_files["data"])
    chunks = list(reader.iter_chunks(["mjj", "jet_pt"], chunk_size=5000))
    assert [c.n_events for c in chunks] == [5000, 5000, 2000]
    whole = reader.read(["mjj", "jet_pt"])
    np.testing.assert_array_equal(np.concatenate([c["mjj"] for c in chunks]), whole["mjj"])
    assert whole["jet_pt"].shape == (12_000, 2)


def test_chosen_by_suffix(toy_files: dict[str, Path]) -> None:
    assert isinstance(open_events(toy_files["data"]), HDF5Reader)
    with pytest.raises(PluginError, match="no reader for this file suffix"):
        open_events(toy_files["data"].with_suffix(".parquet"))


def test_missing_file() -> None:
    with pytest.raises(InputError, match=r"nowhere\.h5: no such file"):
        HDF5Reader("nowhere.h5")


def test_not_hdf5(tmp_path: Path) -> None:
    bad = tmp_path / "bad.h5"
    bad.write_text("mjj,pt\n1,2\n")
    with pytest.raises(InputError, match=r"bad\.h5: not a readable HDF5 file"):
        HDF5Reader(bad)


def test_truncated_file(tmp_path: Path, toy_files: dict[str, Path]) -> None:
    cut = tmp_path / "cut.h5"
    cut.write_bytes(toy_files["data"].read_bytes()[:20_000])
    with pytest.raises(InputError, match=r"cut\.h5"):
        HDF5Reader(cut).read(["mjj"])


def test_missing_column_lists_what_the_file_has(toy_files: dict[str, Path]) -> None:
    with pytest.raises(InputError, match=r"missing column\(s\) 'tau21'.*the file has: .*mjj"):
        HDF5Reader(toy_files["data"]).read(["tau21"])


def test_labels_are_not_event_columns(tmp_path: Path) -> None:
    path = tmp_path / "labelled.h5"
    with h5py.File(path, "w") as f:
        f["mjj"] = np.array([1.0, 2.0])
        f["label"] = np.array([0, 1])
    reader = HDF5Reader(path)
    assert reader.available_columns() == ["mjj"]
    np.testing.assert_array_equal(reader.read_labels(), [0, 1])


def test_constituents_become_jagged(tmp_path: Path) -> None:
    padded = np.zeros((2, 2, 4, 3), dtype=np.float32)
    padded[0, 0, :3, 0] = [30.0, 20.0, 10.0]
    padded[1, 1, :1, 0] = [50.0]
    path = tmp_path / "const.h5"
    with h5py.File(path, "w") as f:
        f["mjj"] = np.array([1.0, 2.0])
        f["jet_const"] = padded
    const = HDF5Reader(path).read()["jet_const"]
    assert const.pt.tolist() == [[[30.0, 20.0, 10.0], []], [[], [50.0]]]
