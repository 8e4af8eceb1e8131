"""Load the development dataset as BENCHMARK.md splits it (cached in a .npz under /tmp).

Used by the measurement scripts of this folder; not part of the installed package.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from casehunt.derived import derive_columns
from casehunt.events import EventTable
from casehunt.preselection import Preselection, builtin_cuts, resolve_config
from casehunt.readers import HDF5Reader

DATA = Path(os.environ.get("CASEHUNT_DEV_DATA", "/work/shared/data/lhcolike"))
COLUMNS = (
    "mjj",
    "mj1",
    "mj2",
    "delta_mj",
    "tau21_j1",
    "tau21_j2",
    "tau32_j1",
    "tau32_j2",
    "tau43_j1",
    "tau43_j2",
)


def load(name: str, start: int, stop: int) -> EventTable:
    """Events [start, stop) of data/lhcolike/<name>.h5, derived and preselected."""
    cache = Path(f"/tmp/casehunt_cathode_{name}_{start}_{stop}.npz")
    if cache.exists():
        with np.load(cache) as f:
            return EventTable({k: f[k] for k in f.files}, source=name)
    reader = HDF5Reader(DATA / f"{name}.h5")
    presel = Preselection(builtin_cuts(resolve_config(None)))
    parts = []
    for chunk in reader.iter_chunks(None, chunk_size=100_000, start=start, stop=stop):
        chunk = chunk.with_columns(**derive_columns(chunk))
        keep = presel.apply(chunk)
        parts.append({k: np.asarray(chunk[k])[keep] for k in COLUMNS})
    cols = {k: np.concatenate([p[k] for p in parts]) for k in COLUMNS}
    np.savez(cache, **cols)
    return EventTable(cols, source=name)
