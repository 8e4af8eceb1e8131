"""Reader of the CMS CASE HDF5 layout (``format: case-h5``).

The layout is the output of the CASE H5 maker (github.com/case-team/CASEUtils,
``H5_maker/README.md`` and ``H5_maker/H5_maker.py``, ``Outputer.fill_event``), checked
there; the two leading AK8 jets by pT are the dijet, stored with ``j1`` the jet with the
larger soft-drop mass:

- ``jet_kinematics`` (N, 14): ``[mjj, delta_eta, j1 pt, j1 eta, j1 phi, j1 msd, j2 pt,
  j2 eta, j2 phi, j2 msd, j3 pt, j3 eta, j3 phi, j3 msd]``; ``mjj`` is the mass of the sum
  of the two jets built with their soft-drop masses (``PtEtaPhiMVector(pt, eta, phi,
  msoftdrop)``); j3 is zeros when there is no third jet;
- ``jet1_extraInfo``, ``jet2_extraInfo`` (N, 7): ``[tau1, tau2, tau3, tau4, lsf3, btag,
  nPFConstituents]`` (some H5 maker versions cap the last at 100, the number of stored
  candidates; later ones append DeepAK8 scores, which are not read);
- ``jet1_PFCands``, ``jet2_PFCands`` (N, 100, 4) float16: ``(px, py, pz, E)`` of up to 100
  PF candidates, pT-ordered, zero-padded;
- ``truth_label`` (N, 1): 0 QCD, >= 1 signal, < 0 other backgrounds (single top -1,
  ttbar -2, V+jets -3); ``event_info`` (N, 7 or 8): eventNum, MET, ... (not read).

======================  ========================================================
casehunt column         from
======================  ========================================================
``mjj``                 ``jet_kinematics[:, 0]``
``jet_pt/eta/phi``      ``jet_kinematics[:, 2:5]`` (j1), ``[:, 6:9]`` (j2)
``jet_msd``             ``jet_kinematics[:, 5]``, ``[:, 9]`` (soft-drop mass)
``jet_tau1..4``         ``jet{1,2}_extraInfo[:, 0:4]``
``jet_nconst``          ``jet{1,2}_extraInfo[:, 6]``
``jet_const``           ``jet{1,2}_PFCands``: pt, eta, phi from px, py, pz
======================  ========================================================

The jets are reordered by pT (casehunt's convention; the derived ``mj1``/``mj2`` give
the CASE mass ordering back). Missing: the plain jet mass ``jet_m`` (the file has only
the soft-drop mass), the third jet, ``lsf3`` and the b-tag score (no canonical columns).
``truth_label`` is given raw by :meth:`CASEReader.read_labels`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from casehunt.errors import InputError
from casehunt.events import EventTable
from casehunt.formats.common import chunk_bounds, leading_first, pt_eta_phi, swap_jets
from casehunt.readers import DEFAULT_CHUNK_SIZE, EventReader, constituents_from_padded

_KINEMATICS = "jet_kinematics"
#: jet_kinematics column of each jet's pt, eta, phi, msd
_KIN_INDEX = {"jet_pt": (2, 6), "jet_eta": (3, 7), "jet_phi": (4, 8), "jet_msd": (5, 9)}
#: extraInfo column of each per-jet quantity
_EXTRA_INDEX = {"jet_tau1": 0, "jet_tau2": 1, "jet_tau3": 2, "jet_tau4": 3, "jet_nconst": 6}
_EXTRA = ("jet1_extraInfo", "jet2_extraInfo")
_PFCANDS = ("jet1_PFCands", "jet2_PFCands")


class CASEReader(EventReader):
    """The CMS CASE H5 layout (CASEUtils H5 maker): jet_kinematics, extraInfo, PFCands."""

    format = "case-h5"
    description = "CMS CASE HDF5 layout (jet_kinematics, jet1/2_extraInfo, jet1/2_PFCands)"

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        try:
            with h5py.File(self.path, "r") as f:
                shapes = {k: v.shape for k, v in f.items() if isinstance(v, h5py.Dataset)}
        except OSError as exc:
            raise InputError(
                f"{self.path}: not a readable HDF5 file ({exc}); is it truncated or in "
                "another format?"
            ) from None
        kin = shapes.get(_KINEMATICS)
        if kin is None or len(kin) != 2 or kin[1] < 10:
            raise InputError(
                f"{self.path}: no dataset {_KINEMATICS!r} of shape (N, 14) "
                f"({'found ' + str(kin) if kin else 'absent'}); this is not a CASE H5 file "
                f"(datasets: {', '.join(shapes) or 'none'})"
            )
        self._n = kin[0]
        for name, shape in shapes.items():
            if name in (*_EXTRA, *_PFCANDS, "truth_label") and shape[0] != self._n:
                raise InputError(
                    f"{self.path}: dataset {name!r} has {shape[0]} rows, "
                    f"{_KINEMATICS!r} has {self._n}"
                )
        self._columns = ["mjj", *_KIN_INDEX]
        width = min(
            (shapes[k][1] for k in _EXTRA if k in shapes and len(shapes[k]) == 2), default=0
        )
        if all(k in shapes for k in _EXTRA):
            self._columns += [c for c, i in _EXTRA_INDEX.items() if i < width]
        if all(k in shapes and len(shapes[k]) == 3 and shapes[k][2] == 4 for k in _PFCANDS):
            self._columns.append("jet_const")
        self._has_labels = "truth_label" in shapes

    def n_events(self) -> int:
        return self._n

    def available_columns(self) -> list[str]:
        return list(self._columns)

    def iter_chunks(
        self,
        columns: Sequence[str] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        start: int = 0,
        stop: int | None = None,
    ) -> Iterator[EventTable]:
        names = self.checked_columns(columns)
        try:
            with h5py.File(self.path, "r") as f:
                for lo, hi in chunk_bounds(self._n, start, stop, chunk_size):
                    yield EventTable(self._read(f, names, lo, hi), source=str(self.path))
        except OSError as exc:
            raise InputError(
                f"{self.path}: read error ({exc}); the file may be truncated"
            ) from None

    def _read(self, f: h5py.File, names: list[str], lo: int, hi: int) -> dict[str, Any]:
        kin = np.asarray(f[_KINEMATICS][lo:hi, :10], dtype=np.float64)
        pt = kin[:, [2, 6]]
        swap = leading_first(pt)
        cols: dict[str, Any] = {}
        for name in names:
            if name == "mjj":
                cols[name] = kin[:, 0]
            elif name in _KIN_INDEX:
                cols[name] = swap_jets(kin[:, list(_KIN_INDEX[name])], swap)
            elif name in _EXTRA_INDEX:
                i = _EXTRA_INDEX[name]
                both = np.stack([f[k][lo:hi, i] for k in _EXTRA], axis=1).astype(np.float64)
                if name == "jet_nconst":
                    both = np.rint(both).astype(np.int64)
                cols[name] = swap_jets(both, swap)
            elif name == "jet_const":
                cols[name] = constituents_from_padded(swap_jets(self._candidates(f, lo, hi), swap))
        return cols

    @staticmethod
    def _candidates(f: h5py.File, lo: int, hi: int) -> np.ndarray:
        """(n, 2, 100, 3) float32 (pt, eta, phi) of both jets' PF candidates, pT-ordered."""
        jets = []
        for name in _PFCANDS:
            c = np.asarray(f[name][lo:hi], dtype=np.float64)
            pt, eta, phi = pt_eta_phi(c[..., 0], c[..., 1], c[..., 2])
            order = np.argsort(-pt, axis=1, kind="stable")
            jets.append(
                np.stack([np.take_along_axis(v, order, axis=1) for v in (pt, eta, phi)], axis=-1)
            )
        return np.stack(jets, axis=1).astype(np.float32)

    def read_labels(self, start: int = 0, stop: int | None = None) -> np.ndarray | None:
        """``truth_label`` as stored (0 QCD, >= 1 signal, < 0 other), for evaluation only."""
        if not self._has_labels:
            return None
        with h5py.File(self.path, "r") as f:
            return np.asarray(f["truth_label"][start:stop]).reshape(-1).astype(np.int64)
