"""Readers of the LHC Olympics 2020 R&D dataset (Kasieczka, Nachman, Shih et al.,
arXiv:2101.08320; files on Zenodo, doi:10.5281/zenodo.4536377 and 10.5281/zenodo.6466204).

Both files are pandas HDF5 files (``DataFrame.to_hdf``), read here with h5py by row
ranges (:mod:`casehunt.formats.pandas_hdf`), in the fixed or the table layout.

``lhco-features``: ``events_anomalydetection_v2.features.h5``
    Columns ``pxj1 pyj1 pzj1 mj1 tau1j1 tau2j1 tau3j1`` and the same for ``j2``, and
    ``label`` (1 signal, 0 background). Two anti-kt R = 1 jets per event.

    ===================  =========================================================
    casehunt column      from
    ===================  =========================================================
    ``jet_pt/eta/phi``   px, py, pz of each jet
    ``jet_m``            ``mj1``/``mj2``: the plain jet mass (not groomed)
    ``jet_tau1..3``      ``tau1j*``..``tau3j*``
    ``mjj``              the invariant mass of the two jet four-vectors (px, py, pz, m)
    ===================  =========================================================

    The jets are put in pT order (the file's j1/j2 order is not used). Missing: the
    soft-drop mass (``jet_msd``; mass ordering then uses ``jet_m``, see
    :mod:`casehunt.derived`), ``jet_tau4``, ``jet_nconst`` and constituents. ``label``
    is given by :meth:`LHCOFeaturesReader.read_labels`, never as an event column.

``lhco-particles``: ``events_anomalydetection.h5`` (and the black boxes)
    2100 columns: up to 700 particles per event as (pT, eta, phi) triples, zero-padded,
    optionally followed by the label (2101 columns). The particles (massless) are
    clustered with the generator's jet code (:func:`casehunt.generate.jets.analyse_batch`:
    anti-kt R = 1.0 with FastJet, jets above 20 GeV, soft-drop mass with beta = 0,
    z_cut = 0.1, N-subjettiness tau_1..tau_4 with beta = 1), which gives every canonical
    column and ``jet_const`` (the ``n_constituents`` hardest constituents of each jet).
    An event with fewer than two jets above 20 GeV keeps its row (so event ids line up)
    with the missing jet's values and ``mjj`` set to 0: a jet pT cut removes it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from casehunt.errors import InputError
from casehunt.events import EventTable
from casehunt.formats.common import (
    JET_FLOATS,
    chunk_bounds,
    dijet_mass_xyz,
    leading_first,
    pt_eta_phi,
    require_module,
    swap_jets,
)
from casehunt.formats.pandas_hdf import PandasFrame
from casehunt.readers import DEFAULT_CHUNK_SIZE, EventReader, constituents_from_padded

#: The LHCO R&D feature columns, per jet (suffix j1, j2).
_FEATURES_PER_JET = ("px", "py", "pz", "m", "tau1", "tau2", "tau3")


class _PandasReader(EventReader):
    """A reader of one pandas frame; the file stays closed between chunks."""

    #: the column holding the truth label, if any; rows read at once for the labels
    _label_column: Any = None
    _label_rows: int = 100_000

    def __init__(self, path: str | Path, key: str | None = None) -> None:
        super().__init__(path)
        self._frame = PandasFrame(self.path, key)

    def n_events(self) -> int:
        return self._frame.n_rows

    def read_labels(self, start: int = 0, stop: int | None = None) -> np.ndarray | None:
        """The truth label column (1 signal, 0 background), for evaluation only."""
        if self._label_column is None:
            return None
        bounds = chunk_bounds(self.n_events(), start, stop, self._label_rows)
        parts = [r[:, 0] for r in self._read_rows([self._label_column], bounds)]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def _read_rows(self, names: Sequence[Any], bounds: list[tuple[int, int]]) -> Iterator[Any]:
        """(rows, columns) arrays of `names` for each range, with read errors named."""
        try:
            with h5py.File(self.path, "r") as f:
                for lo, hi in bounds:
                    yield self._frame.read(f, names, lo, hi)
        except OSError as exc:
            raise InputError(
                f"{self.path}: read error ({exc}); the file may be truncated"
            ) from None


class LHCOFeaturesReader(_PandasReader):
    """The LHC Olympics 2020 R&D high-level features: two jets' px, py, pz, m, tau1..3."""

    format = "lhco-features"
    description = "LHC Olympics 2020 R&D high-level features (pandas HDF5, pxj1 ... tau3j2)"

    COLUMNS = ("mjj", "jet_pt", "jet_eta", "jet_phi", "jet_m", "jet_tau1", "jet_tau2", "jet_tau3")

    def __init__(self, path: str | Path, key: str | None = None) -> None:
        super().__init__(path, key)
        self._sources = [f"{v}j{j}" for j in (1, 2) for v in _FEATURES_PER_JET]
        missing = [c for c in self._sources if c not in self._frame.columns]
        if missing:
            raise InputError(
                f"{self.path}: missing column(s) {', '.join(missing)} of the LHC Olympics "
                f"features layout; the frame has: {', '.join(map(str, self._frame.columns))}"
            )
        if "label" in self._frame.columns:
            self._label_column = "label"

    def available_columns(self) -> list[str]:
        return list(self.COLUMNS)

    def iter_chunks(
        self,
        columns: Sequence[str] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        start: int = 0,
        stop: int | None = None,
    ) -> Iterator[EventTable]:
        names = self.checked_columns(columns)
        bounds = chunk_bounds(self.n_events(), start, stop, chunk_size)
        for rows in self._read_rows(self._sources, bounds):
            cols = self._convert(rows)
            yield EventTable({n: cols[n] for n in names}, source=str(self.path))

    @staticmethod
    def _convert(rows: np.ndarray) -> dict[str, np.ndarray]:
        k = len(_FEATURES_PER_JET)
        per = {
            v: np.stack([rows[:, i], rows[:, k + i]], axis=1)
            for i, v in enumerate(_FEATURES_PER_JET)
        }
        pt, eta, phi = pt_eta_phi(per["px"], per["py"], per["pz"])
        swap = leading_first(pt)
        cols = {
            "mjj": dijet_mass_xyz(per["px"], per["py"], per["pz"], per["m"]),
            "jet_pt": pt,
            "jet_eta": eta,
            "jet_phi": phi,
            "jet_m": per["m"],
            "jet_tau1": per["tau1"],
            "jet_tau2": per["tau2"],
            "jet_tau3": per["tau3"],
        }
        return {n: v if v.ndim == 1 else swap_jets(v, swap) for n, v in cols.items()}


class LHCOParticlesReader(_PandasReader):
    """LHC Olympics 2020 R&D particles (700 x (pT, eta, phi)), clustered into R = 1 jets.

    `radius` and `n_constituents` (constituents kept per jet in ``jet_const``) configure
    the jet code; `batch_size` events are clustered at once, which bounds the memory of
    the raw rows (700 x 3 floats per event) independently of the chunk size.
    """

    format = "lhco-particles"
    description = "LHC Olympics 2020 R&D particles (pandas HDF5, 700 x pT/eta/phi), FastJet R=1"

    N_PARTICLES = 700

    def __init__(
        self,
        path: str | Path,
        key: str | None = None,
        *,
        radius: float = 1.0,
        n_constituents: int = 100,
        batch_size: int = 10_000,
    ) -> None:
        super().__init__(path, key)
        require_module("fastjet", self.format)
        ncols = len(self._frame.columns)
        if ncols not in (3 * self.N_PARTICLES, 3 * self.N_PARTICLES + 1):
            raise InputError(
                f"{self.path}: the frame has {ncols} columns; the LHC Olympics particle layout "
                f"has {3 * self.N_PARTICLES} (700 particles x pT, eta, phi) or "
                f"{3 * self.N_PARTICLES + 1} (with the label last)"
            )
        self._particle_columns = self._frame.columns[: 3 * self.N_PARTICLES]
        self._label_column = self._frame.columns[-1] if ncols % 3 else None
        self.radius = float(radius)
        self.n_constituents = int(n_constituents)
        self.batch_size = int(batch_size)
        self._label_rows = self.batch_size

    def available_columns(self) -> list[str]:
        cols = ["mjj", *JET_FLOATS, "jet_nconst"]
        return [*cols, "jet_const"] if self.n_constituents > 0 else cols

    def iter_chunks(
        self,
        columns: Sequence[str] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        start: int = 0,
        stop: int | None = None,
    ) -> Iterator[EventTable]:
        from casehunt.generate.jets import JetConfig

        names = self.checked_columns(columns)
        # every event is kept (min_leading_pt below any pT); constituents only on request
        cfg = JetConfig(
            radius=self.radius,
            min_leading_pt=-1.0,
            n_constituents=self.n_constituents if "jet_const" in names else 0,
        )
        for lo, hi in chunk_bounds(self.n_events(), start, stop, chunk_size):
            batches = chunk_bounds(hi, lo, hi, self.batch_size)
            parts = [
                _cluster(rows, cfg) for rows in self._read_rows(self._particle_columns, batches)
            ]
            cols: dict[str, Any] = {}
            for n in names:
                if n == "jet_const":
                    padded = np.concatenate([p[n] for p in parts])
                    cols[n] = constituents_from_padded(padded)
                else:
                    cols[n] = np.concatenate([p[n] for p in parts])
            yield EventTable(cols, source=str(self.path))


def particles_from_rows(rows: np.ndarray) -> Any:
    """(events, 2100) zero-padded (pT, eta, phi) triples as massless awkward 4-vectors."""
    import awkward as ak

    p = rows.reshape(len(rows), -1, 3)
    keep = p[..., 0] > 0
    pt, eta, phi = (p[..., i][keep] for i in range(3))
    flat = ak.zip(
        {
            "px": pt * np.cos(phi),
            "py": pt * np.sin(phi),
            "pz": pt * np.sinh(eta),
            "E": pt * np.cosh(eta),
        },
        with_name="Momentum4D",
    )
    return ak.unflatten(flat, keep.sum(axis=1))


def _cluster(rows: np.ndarray, cfg: Any) -> dict[str, np.ndarray]:
    """The canonical columns of a batch of particle rows, one row per event."""
    from casehunt.generate.jets import analyse_batch

    accepted, cols = analyse_batch(particles_from_rows(rows), cfg)
    if not accepted.all():  # min_leading_pt < 0 accepts every event
        raise RuntimeError("the jet code dropped events; expected one row per event")
    # a missing jet (fewer than two jets above jet_min_pt) is NaN there: make it 0, pT = 0
    missing = np.isnan(cols["jet_pt"])
    for name in JET_FLOATS:
        cols[name][missing] = 0.0
    cols["mjj"][missing.any(axis=1)] = 0.0
    return cols
