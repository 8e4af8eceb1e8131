"""benchmarks/stack_rows.py: row ranges of event files stacked, with their provenance."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from .conftest import load_script

stack_rows = load_script("stack_rows")


def _events(path: Path, n: int, offset: float, extra: bool = False) -> None:
    with h5py.File(path, "w") as f:
        f["mjj"] = offset + np.arange(n, dtype=np.float32)
        f["jet_m"] = np.stack([np.arange(n), -np.arange(n)], axis=1).astype(np.float32)
        f["chunks"] = np.zeros(3)  # not per event: left out
        if extra:
            f["pthat"] = np.ones(n, dtype=np.float32)
        f.attrs["seed"] = int(offset)


def test_stacks_ranges_in_order_and_records_them(tmp_path: Path) -> None:
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    _events(a, 10, 0.0)
    _events(b, 8, 100.0)
    out = tmp_path / "dir" / "qcd.h5"
    assert stack_rows.main([str(out), f"{a}:2:5", f"{b}:6"]) == 0
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(f["mjj"][:], [2, 3, 4, 106, 107])
        np.testing.assert_array_equal(f["jet_m"][:, 1], [-2, -3, -4, -6, -7])
        assert "chunks" not in f
        record = json.loads(f.attrs["stacked_from"])
    assert [(r["start"], r["stop"], r["attrs"]["seed"]) for r in record] == [(2, 5, 0), (6, 8, 100)]
    assert all(len(r["sha256"]) == 64 for r in record)


@pytest.mark.parametrize(
    ("second", "spec", "message"),
    [
        ("none", "{missing}:0:3", "no such file"),
        ("text", "{b}", "not a readable HDF5 file"),
        ("events", "{b}:0:99", "outside its 8 events"),
        ("events", "{b}:x", "must be integers"),
        ("extra column", "{b}", "columns differ from the first file's: ['pthat']"),
    ],
)
def test_bad_ranges_name_the_file_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], second: str, spec: str, message: str
) -> None:
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    _events(a, 10, 0.0)
    if second == "text":
        b.write_text("mjj,jet_m\n")
    elif second != "none":
        _events(b, 8, 100.0, extra=second == "extra column")
    out = tmp_path / "qcd.h5"
    assert stack_rows.main([str(out), str(a), spec.format(b=b, missing=tmp_path / "nope.h5")]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob("*.partial"))
