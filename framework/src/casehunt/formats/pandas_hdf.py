"""Row ranges of a pandas ``DataFrame.to_hdf`` file, read with h5py (no pandas, no PyTables).

The LHC Olympics files are pandas HDF5 files. Reading them through h5py by row slices
keeps memory at one chunk and avoids the optional PyTables dependency. Two layouts exist
(pandas ``io/pytables.py``, ``FrameFixed`` and ``AppendableFrameTable``):

- fixed (the default of ``to_hdf``; group attribute ``pandas_type = "frame"``): datasets
  ``axis0`` (column names), ``axis1`` (the index) and, per dtype block ``i``,
  ``block{i}_items`` (the block's column names) and ``block{i}_values`` (rows x columns,
  attribute ``transposed = 1``);
- table (``format="table"``; ``pandas_type = "frame_table"``): one compound dataset
  ``table`` with fields ``index``, ``values_block_{i}`` (rows x columns) and one field per
  ``data_columns`` entry. The column names of a block are in the attribute
  ``values_block_{i}_kind`` of ``table``, a protocol-0 pickle of a list of names; it is
  read with an unpickler that refuses every global, so a file cannot run code.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from casehunt.errors import InputError

Name = str | int


class _NamesOnly(pickle.Unpickler):
    """Unpickles lists of plain strings and numbers only: any class or function is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _decode_names(values: np.ndarray, kind: bytes | str | None) -> list[Name]:
    if kind in (b"integer", "integer"):
        return [int(v) for v in values]
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


def _attr_names(raw: Any) -> list[Name]:
    data = raw.tobytes() if isinstance(raw, np.ndarray) else bytes(raw)
    names = _NamesOnly(io.BytesIO(data)).load()
    if not isinstance(names, list):
        raise pickle.UnpicklingError("not a list of column names")
    return [n if isinstance(n, int) else str(n) for n in names]


class PandasFrame:
    """Where each column of a pandas HDF5 frame lives, and reads of row ranges."""

    def __init__(self, path: Path, key: str | None = None) -> None:
        self.path = path
        try:
            with h5py.File(path, "r") as f:
                self.key = self._find_key(f, key)
                group = f[self.key]
                kind = group.attrs.get("pandas_type", b"")
                if kind == b"frame":
                    self._read_fixed(group)
                elif kind == b"frame_table":
                    self._read_table(group)
                else:
                    raise InputError(
                        f"{path}: group {self.key!r} is a pandas {kind.decode()!r} object; "
                        "expected a DataFrame (fixed or table format)"
                    )
        except OSError as exc:
            raise InputError(
                f"{path}: not a readable HDF5 file ({exc}); is it truncated or in another format?"
            ) from None
        self.columns: list[Name] = list(self._where)

    def _find_key(self, f: h5py.File, key: str | None) -> str:
        frames = [k for k, v in f.items() if isinstance(v, h5py.Group) and "pandas_type" in v.attrs]
        if key is not None:
            if key not in frames:
                raise InputError(
                    f"{self.path}: no pandas frame under key {key!r} (frames in the file: "
                    f"{', '.join(frames) or 'none'})"
                )
            return key
        if not frames:
            raise InputError(
                f"{self.path}: not a pandas HDF5 file (no group written by DataFrame.to_hdf); "
                "this reader expects the LHC Olympics pandas layout. A casehunt-layout file "
                "is read with format 'hdf5'"
            )
        if "df" in frames or len(frames) == 1:
            return "df" if "df" in frames else frames[0]
        raise InputError(
            f"{self.path}: several pandas frames ({', '.join(frames)}); pass key= to the reader"
        )

    def _read_fixed(self, group: h5py.Group) -> None:
        if group.attrs.get("axis0_variety", b"regular") != b"regular":
            raise InputError(
                f"{self.path}: pandas frame {self.key!r} has MultiIndex columns; only plain "
                "column names are supported"
            )
        self.n_rows = int(group["axis1"].shape[0])
        axis0 = group["axis0"]
        order = _decode_names(axis0[()], axis0.attrs.get("kind"))
        where: dict[Name, tuple[str, str | None, int]] = {}
        for i in range(int(group.attrs["nblocks"])):
            items = group[f"block{i}_items"]
            values = group[f"block{i}_values"]
            if self.n_rows and values.shape[0] != self.n_rows:
                raise InputError(
                    f"{self.path}: {self.key}/block{i}_values has shape {values.shape}; "
                    f"expected {self.n_rows} rows"
                )
            for pos, name in enumerate(_decode_names(items[()], items.attrs.get("kind"))):
                where[name] = (f"{self.key}/block{i}_values", None, pos)
        self._where = {name: where[name] for name in order if name in where}

    def _read_table(self, group: h5py.Group) -> None:
        table = group["table"]
        self.n_rows = int(table.shape[0])
        where: dict[Name, tuple[str, str | None, int]] = {}
        ds = f"{self.key}/table"
        try:
            for field in table.dtype.names:
                if field == "index":
                    continue
                if field.startswith("values_block_"):
                    for pos, name in enumerate(_attr_names(table.attrs[f"{field}_kind"])):
                        where[name] = (ds, field, pos)
                else:
                    where[field] = (ds, field, -1)
            order = _attr_names(group.attrs["non_index_axes"])
        except (KeyError, pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise InputError(
                f"{self.path}: pandas table {self.key!r}: unreadable column names ({exc}); "
                "write the frame with DataFrame.to_hdf(..., format='fixed') instead"
            ) from None
        # non_index_axes is [(1, [names...])]
        names = order[0][1] if order and isinstance(order[0], tuple) else list(where)
        self._where = {name: where[name] for name in names if name in where}

    def read(self, f: h5py.File, names: Sequence[Name], lo: int, hi: int) -> np.ndarray:
        """Rows [lo, hi) of the named columns as one (rows, columns) float64 array."""
        out = np.empty((hi - lo, len(names)), dtype=np.float64)
        by_source: dict[tuple[str, str | None], list[tuple[int, int]]] = {}
        for k, name in enumerate(names):
            ds, field, pos = self._where[name]
            by_source.setdefault((ds, field), []).append((k, pos))
        cache: dict[str, np.ndarray] = {}
        for (ds, field), targets in by_source.items():
            outs = [k for k, _ in targets]
            cols = [p for _, p in targets]
            if field is None:  # a fixed-format block: read only the columns spanned
                c0 = min(cols)
                data = f[ds][lo:hi, c0 : max(cols) + 1]
                cols = [c - c0 for c in cols]
            else:  # a table: whole rows of the compound dataset, read once per call
                if ds not in cache:
                    cache[ds] = f[ds][lo:hi]
                data = cache[ds][field]
                if cols == [-1]:  # a data column: one value per row
                    out[:, outs[0]] = data
                    continue
            if outs == list(range(len(names))) and cols == list(range(data.shape[1])):
                return np.asarray(data, dtype=np.float64)  # the whole block, in order
            out[:, outs] = data[:, cols]
        return out
