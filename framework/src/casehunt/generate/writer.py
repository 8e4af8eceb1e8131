"""Chunked, resumable HDF5 output in the layout of ``shared/data/README.md``.

One dataset per column, first axis the event, resizable along it; per-jet columns have
shape (N, 2). Dtypes, compression (gzip 6 with shuffle) and row chunking (8192) follow
the reference files: float32 for kinematics and substructure (7 significant digits,
well below any resolution that matters here), int32 multiplicities, float64 weights.

Resuming: the file stores its generator configuration (``generator_config``, JSON).
A later run with the same configuration continues after the chunks present; any
difference (process, masses, extra Pythia settings, seed, chunk size, jet settings,
package versions) is refused with the name of the file and of the differing setting.
Chunk ``i`` always uses Pythia seed ``seed + i`` and stops after a fixed number of
accepted events, so a file made in one go and one made in several sittings are equal.

Crash safety: a chunk is written only once complete; the datasets are extended first
and the event count attributes (the commit marker) last, then the file is flushed.
SIGINT/SIGTERM are deferred while a chunk is being written. If a hard kill still hits
the middle of a write, the next run truncates the datasets back to the committed count.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from casehunt.generate.errors import OutputMismatchError

#: Row chunking of the HDF5 datasets, as in the reference files.
ROWS_PER_CHUNK = 8192
COMPRESSION = "gzip"
COMPRESSION_OPTS = 6

#: Column name -> (dtype, per-jet?). Matches the reference files exactly.
COLUMNS: dict[str, tuple[type, bool]] = {
    "mjj": (np.float32, False),
    "jet_pt": (np.float32, True),
    "jet_eta": (np.float32, True),
    "jet_phi": (np.float32, True),
    "jet_m": (np.float32, True),
    "jet_msd": (np.float32, True),
    "jet_tau1": (np.float32, True),
    "jet_tau2": (np.float32, True),
    "jet_tau3": (np.float32, True),
    "jet_tau4": (np.float32, True),
    "jet_nconst": (np.int32, True),
    "pthat": (np.float32, False),
    "weight": (np.float64, False),
}
CONSTITUENT_COLUMN = "jet_const"

#: Per-chunk bookkeeping, kept in the group ``chunks`` (one row per generator chunk).
CHUNK_TABLE: dict[str, type] = {
    "seed": np.int64,
    "n_accepted": np.int64,
    "n_generated": np.int64,
    "sigma_gen_mb": np.float64,
    "sigma_err_mb": np.float64,
    "wall_time_s": np.float64,
}


@dataclass
class ChunkData:
    """The output of one generator chunk, ready to be appended."""

    index: int
    seed: int
    n_generated: int
    sigma_gen_mb: float
    sigma_err_mb: float
    wall_time_s: float
    columns: dict[str, np.ndarray]

    @property
    def n_accepted(self) -> int:
        return len(self.columns["mjj"])


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold back SIGINT/SIGTERM while a chunk is written, so Ctrl-C cannot cut it in half."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "pthread_sigmask"
    ):
        yield
        return
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> {"a.b": value} so that a mismatch can name the exact setting."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def config_differences(stored: Mapping[str, Any], requested: Mapping[str, Any]) -> list[str]:
    """Human-readable list of the settings that differ between two configurations."""
    a, b = _flatten(stored), _flatten(requested)
    diffs = []
    for key in sorted(set(a) | set(b)):
        if a.get(key, "<absent>") != b.get(key, "<absent>"):
            diffs.append(
                f"{key}: file has {a.get(key, '<absent>')!r}, requested {b.get(key, '<absent>')!r}"
            )
    return diffs


class GeneratorOutput:
    """An open output file that accepts chunks in order and can be resumed."""

    def __init__(self, path: Path, h5: h5py.File, chunk_size: int, n_constituents: int):
        self.path = path
        self._h5 = h5
        self.chunk_size = chunk_size
        self.n_constituents = n_constituents

    # -- opening ---------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path,
        config: Mapping[str, Any],
        static_attrs: Mapping[str, Any],
        n_events: int,
    ) -> GeneratorOutput:
        """Create ``path``, or reopen it for resuming when its configuration matches.

        ``config`` must hold ``chunk_size`` and ``n_constituents``. Raises
        :class:`OutputMismatchError` naming the file and the differing settings.
        """
        path = Path(path)
        chunk_size = int(config["chunk_size"])
        n_const = int(config["n_constituents"])
        config_json = json.dumps(config, sort_keys=True)
        if path.exists():
            try:
                h5 = h5py.File(path, "a")
            except OSError as exc:
                if "lock" in str(exc):
                    raise OutputMismatchError(
                        f"{path}: is open in another process (is a generation still "
                        "running?); wait for it or stop it, then run again to resume"
                    ) from exc
                raise OutputMismatchError(
                    f"{path}: exists but cannot be opened as HDF5 ({exc}); "
                    "delete it or choose another output path"
                ) from exc
            try:
                stored_json = h5.attrs.get("generator_config")
                if stored_json is None:
                    raise OutputMismatchError(
                        f"{path}: exists and was not written by casehunt generate; "
                        "delete it or choose another output path"
                    )
                stored = json.loads(stored_json)
                diffs = config_differences(stored, json.loads(config_json))
                if diffs:
                    raise OutputMismatchError(
                        f"{path}: was written with different settings, cannot resume: "
                        + "; ".join(diffs)
                        + ". Use another output path or delete the file."
                    )
                out = cls(path, h5, chunk_size, n_const)
                out._recover(n_events)
            except BaseException:
                h5.close()
                raise
            return out
        path.parent.mkdir(parents=True, exist_ok=True)
        h5 = h5py.File(path, "w")
        try:
            out = cls(path, h5, chunk_size, n_const)
            out._create(config_json, static_attrs)
        except BaseException:
            h5.close()
            path.unlink(missing_ok=True)
            raise
        return out

    def _create(self, config_json: str, static_attrs: Mapping[str, Any]) -> None:
        h5 = self._h5
        for name, (dtype, per_jet) in COLUMNS.items():
            shape = (0, 2) if per_jet else (0,)
            h5.create_dataset(
                name,
                shape=shape,
                maxshape=(None, *shape[1:]),
                dtype=dtype,
                chunks=(ROWS_PER_CHUNK, *shape[1:]),
                compression=COMPRESSION,
                compression_opts=COMPRESSION_OPTS,
                shuffle=True,
            )
        if self.n_constituents:
            m = self.n_constituents
            rows = int(max(1, min(ROWS_PER_CHUNK, (1 << 20) // (2 * m * 3 * 4))))
            h5.create_dataset(
                CONSTITUENT_COLUMN,
                shape=(0, 2, m, 3),
                maxshape=(None, 2, m, 3),
                dtype=np.float32,
                chunks=(rows, 2, m, 3),
                compression=COMPRESSION,
                compression_opts=COMPRESSION_OPTS,
                shuffle=True,
            )
        grp = h5.create_group("chunks")
        grp.attrs["description"] = "one row per generator chunk; chunk i used seed + i"
        for name, dtype in CHUNK_TABLE.items():
            grp.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(1024,))
        for key, value in static_attrs.items():
            h5.attrs[key] = value
        h5.attrs["generator_config"] = config_json
        self._set_counts(0, 0)
        h5.flush()

    def _recover(self, n_events: int) -> None:
        """Bring an existing file back to its last committed chunk; drop a short last chunk.

        A short last chunk is the tail of an earlier, smaller request; when more events
        are wanted it is regenerated whole (same seed, so its events are a prefix of the
        new chunk's), which keeps the file equal to one made in one go.
        """
        h5 = self._h5
        n_chunks = int(h5.attrs["n_chunks"])
        table = {k: h5["chunks"][k][:n_chunks] for k in CHUNK_TABLE}
        n_acc = int(table["n_accepted"].sum())
        if n_acc != int(h5.attrs["n_accepted"]):
            raise OutputMismatchError(
                f"{self.path}: inconsistent bookkeeping (chunks sum to {n_acc} events, "
                f"attribute n_accepted = {int(h5.attrs['n_accepted'])}); delete the file"
            )
        if n_events < n_acc:
            raise OutputMismatchError(
                f"{self.path}: already holds {n_acc} events, more than the {n_events} "
                "requested; ask for at least that many or use another output path"
            )
        if n_events > n_acc and n_chunks and table["n_accepted"][-1] < self.chunk_size:
            n_chunks -= 1
            n_acc -= int(table["n_accepted"][-1])
        self._truncate(n_chunks, n_acc)

    def _truncate(self, n_chunks: int, n_acc: int) -> None:
        h5 = self._h5
        with _signals_deferred():
            for name in self._column_names():
                if h5[name].shape[0] != n_acc:
                    h5[name].resize(n_acc, axis=0)
            for name in CHUNK_TABLE:
                if h5["chunks"][name].shape[0] != n_chunks:
                    h5["chunks"][name].resize(n_chunks, axis=0)
            self._set_counts(n_chunks, n_acc)
            h5.flush()

    # -- state -----------------------------------------------------------------------

    def _column_names(self) -> list[str]:
        names = list(COLUMNS)
        if self.n_constituents:
            names.append(CONSTITUENT_COLUMN)
        return names

    @property
    def n_chunks(self) -> int:
        """Number of complete chunks in the file (the next chunk index to generate)."""
        return int(self._h5.attrs["n_chunks"])

    @property
    def n_accepted(self) -> int:
        return int(self._h5.attrs["n_accepted"])

    def _set_counts(self, n_chunks: int, n_acc: int) -> None:
        """Update the summary attributes from the chunk table; ``n_chunks`` commits."""
        h5 = self._h5
        t = {k: h5["chunks"][k][:n_chunks] for k in CHUNK_TABLE}
        n_gen = t["n_generated"].astype(np.float64)
        if n_chunks:
            sigma = float((t["sigma_gen_mb"] * n_gen).sum() / n_gen.sum())
            err = float(np.sqrt(((t["sigma_err_mb"] * n_gen) ** 2).sum()) / n_gen.sum())
        else:
            sigma = err = 0.0
        h5.attrs["n_generated"] = np.int64(t["n_generated"].sum())
        h5.attrs["sigma_gen_mb"] = np.float64(sigma)
        h5.attrs["sigma_err_mb"] = np.float64(err)
        h5.attrs["seeds"] = t["seed"].astype(np.int64)
        h5.attrs["wall_time_s"] = np.float64(t["wall_time_s"].sum())
        h5.attrs["n_accepted"] = np.int64(n_acc)
        h5.attrs["n_chunks"] = np.int64(n_chunks)

    def set_requested(self, n_events: int) -> None:
        """Record the requested total and whether the file holds all of it."""
        self._h5.attrs["n_requested"] = np.int64(n_events)
        self._h5.attrs["complete"] = np.bool_(self.n_accepted >= n_events)
        self._h5.flush()

    # -- writing ---------------------------------------------------------------------

    def write_chunk(self, chunk: ChunkData) -> None:
        """Append one complete chunk (chunks must arrive in index order), then flush."""
        if chunk.index != self.n_chunks:
            raise RuntimeError(f"chunk {chunk.index} arrived, expected {self.n_chunks}")
        h5 = self._h5
        n_old = self.n_accepted
        n_new = n_old + chunk.n_accepted
        with _signals_deferred():
            for name in self._column_names():
                if name == CONSTITUENT_COLUMN:
                    data = chunk.columns[name].astype(np.float32, copy=False)
                else:
                    data = chunk.columns[name].astype(COLUMNS[name][0], copy=False)
                ds = h5[name]
                ds.resize(n_new, axis=0)
                ds[n_old:n_new] = data
            row = {
                "seed": chunk.seed,
                "n_accepted": chunk.n_accepted,
                "n_generated": chunk.n_generated,
                "sigma_gen_mb": chunk.sigma_gen_mb,
                "sigma_err_mb": chunk.sigma_err_mb,
                "wall_time_s": chunk.wall_time_s,
            }
            for name, value in row.items():
                ds = h5["chunks"][name]
                ds.resize(chunk.index + 1, axis=0)
                ds[chunk.index] = value
            self._set_counts(chunk.index + 1, n_new)
            h5.flush()

    def close(self) -> None:
        self._h5.close()

    def __enter__(self) -> GeneratorOutput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
