"""Reader of NanoAOD-like ROOT files (``format: nanoaod``, suffix ``.root``), with uproot.

Reads the ``Events`` tree in entry ranges. Branch names follow CMS NanoAOD (FatJet
collection: AK8 PUPPI jets) and PFNano (PF candidates of the fat jets:
``FatJetPFCands_jetIdx`` / ``FatJetPFCands_pFCandsIdx`` index into ``PFCands``), as read
by the CASE H5 maker (github.com/case-team/CASEUtils, ``H5_maker/H5_maker.py``).

=======================  ======================================================
casehunt column          branch (of the two leading fat jets by pT)
=======================  ======================================================
``jet_pt/eta/phi``       ``FatJet_pt``, ``FatJet_eta``, ``FatJet_phi`` (required)
``jet_m``                ``FatJet_mass`` (required)
``jet_msd``              ``FatJet_msoftdrop``
``jet_tau1..4``          ``FatJet_tau1`` .. ``FatJet_tau4``
``jet_nconst``           ``FatJet_nConstituents``
``jet_const``            ``PFCands_pt/eta/phi`` of the entries of ``FatJetPFCands``
                         whose ``jetIdx`` is the jet (all five branches needed)
``mjj``                  the mass of the sum of the two jets (pt, eta, phi, mass)
=======================  ======================================================

Optional branches that are absent make their column unavailable (asking for it is an
error naming the branch). Every event keeps its row, so event ids line up with the
file: an event with fewer than two fat jets gets zeros for the missing jet (pT = 0) and
``mjj`` = 0, which any jet pT cut of the preselection removes. No truth labels are read
(a NanoAOD file is one sample; give its label in the configuration).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from casehunt.derived import dijet_mass
from casehunt.errors import InputError
from casehunt.events import EventTable
from casehunt.formats.common import chunk_bounds, require_module
from casehunt.readers import DEFAULT_CHUNK_SIZE, EventReader

#: casehunt per-jet column -> FatJet branch; the first four are required.
BRANCHES = {
    "jet_pt": "FatJet_pt",
    "jet_eta": "FatJet_eta",
    "jet_phi": "FatJet_phi",
    "jet_m": "FatJet_mass",
    "jet_msd": "FatJet_msoftdrop",
    "jet_tau1": "FatJet_tau1",
    "jet_tau2": "FatJet_tau2",
    "jet_tau3": "FatJet_tau3",
    "jet_tau4": "FatJet_tau4",
    "jet_nconst": "FatJet_nConstituents",
}
REQUIRED = ("FatJet_pt", "FatJet_eta", "FatJet_phi", "FatJet_mass")
#: PFNano branches that give the constituents of each fat jet.
PF_BRANCHES = (
    "PFCands_pt",
    "PFCands_eta",
    "PFCands_phi",
    "FatJetPFCands_jetIdx",
    "FatJetPFCands_pFCandsIdx",
)


class NanoAODReader(EventReader):
    """CMS NanoAOD-like ROOT files: the two leading FatJets of the ``Events`` tree."""

    format = "nanoaod"
    suffixes = (".root",)
    description = "NanoAOD-like ROOT (Events tree, FatJet_* branches, PFNano candidates)"

    def __init__(self, path: str | Path, tree: str = "Events") -> None:
        super().__init__(path)
        require_module("uproot", self.format)
        self.tree_name = tree
        with self._open() as t:
            self._n = int(t.num_entries)
            self._branches = set(t.keys())
        missing = [b for b in REQUIRED if b not in self._branches]
        if missing:
            raise InputError(
                f"{self.path}: missing branch(es) {', '.join(missing)} in tree {tree!r}; "
                "the nanoaod reader needs the FatJet pt, eta, phi and mass"
            )

    def _open(self) -> Any:
        """The tree, opened; a damaged file or a missing tree is an InputError."""
        import uproot

        # uproot raises many exception types on a damaged file (OSError, ValueError,
        # DeserializationError...): all of them become one InputError naming the file
        try:
            # no array cache: chunks are read once, and a cache would grow with the file
            f = uproot.open(self.path, array_cache=None)
        except Exception as exc:
            raise InputError(
                f"{self.path}: not a readable ROOT file ({type(exc).__name__}: {exc}); is it "
                "truncated or in another format?"
            ) from None
        try:
            keys = [k.split(";")[0] for k in f.keys(recursive=False)]
            if self.tree_name not in keys:
                raise InputError(
                    f"{self.path}: no TTree {self.tree_name!r}; the file has: "
                    f"{', '.join(keys) or 'nothing'}"
                )
            tree = f[self.tree_name]
        except InputError:
            f.close()
            raise
        except Exception as exc:
            f.close()
            raise InputError(
                f"{self.path}: cannot read {self.tree_name!r} ({type(exc).__name__}: {exc}); "
                "the file may be truncated"
            ) from None
        if not isinstance(tree, uproot.TTree):
            f.close()
            raise InputError(
                f"{self.path}: {self.tree_name!r} is a {type(tree).__name__}, not a TTree "
                "(an RNTuple, for example, is not read by the nanoaod reader)"
            )
        return _Closing(f, tree)

    def n_events(self) -> int:
        return self._n

    def available_columns(self) -> list[str]:
        cols = ["mjj", *(c for c, b in BRANCHES.items() if b in self._branches)]
        if all(b in self._branches for b in PF_BRANCHES):
            cols.append("jet_const")
        return cols

    def checked_columns(self, columns: Sequence[str] | None) -> list[str]:
        available = self.available_columns()
        for c in columns or []:
            if c in available:
                continue
            wanted = [BRANCHES[c]] if c in BRANCHES else PF_BRANCHES if c == "jet_const" else []
            absent = [b for b in wanted if b not in self._branches]
            if absent:
                raise InputError(
                    f"{self.path}: column {c!r} needs branch(es) {', '.join(absent)}, which "
                    f"tree {self.tree_name!r} does not have"
                )
        return super().checked_columns(columns)

    def iter_chunks(
        self,
        columns: Sequence[str] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        start: int = 0,
        stop: int | None = None,
    ) -> Iterator[EventTable]:
        names = self.checked_columns(columns)
        needed = {"FatJet_pt", *(BRANCHES[n] for n in names if n in BRANCHES)}
        if "mjj" in names:
            needed |= set(REQUIRED)
        if "jet_const" in names:
            needed |= set(PF_BRANCHES)
        with self._open() as tree:
            for lo, hi in chunk_bounds(self._n, start, stop, chunk_size):
                try:
                    arrays = tree.arrays(sorted(needed), entry_start=lo, entry_stop=hi)
                except Exception as exc:  # decompression or deserialisation of a damaged file
                    raise InputError(
                        f"{self.path}: read error in entries [{lo}, {hi}) "
                        f"({type(exc).__name__}: {exc}); the file may be truncated"
                    ) from None
                yield EventTable(_columns(arrays, names), source=str(self.path))


class _Closing:
    """A context manager that yields an uproot tree and closes its file."""

    def __init__(self, file: Any, tree: Any) -> None:
        self.file, self.tree = file, tree

    def __enter__(self) -> Any:
        return self.tree

    def __exit__(self, *exc: object) -> None:
        self.file.close()


def _columns(arrays: Any, names: list[str]) -> dict[str, Any]:
    """Canonical columns of the two leading fat jets from one range of entries."""
    import awkward as ak

    order = ak.argsort(arrays["FatJet_pt"], axis=1, ascending=False, stable=True)[:, :2]

    def two(x: Any, fill: float = 0.0) -> np.ndarray:
        lead = ak.pad_none(x[order], 2, axis=1, clip=True)
        return ak.to_numpy(ak.fill_none(lead, fill))

    cols: dict[str, Any] = {}
    for name in names:
        if name in BRANCHES:
            values = two(arrays[BRANCHES[name]])
            dtype = np.int64 if name == "jet_nconst" else np.float64
            cols[name] = values.astype(dtype)
    if "mjj" in names:
        pt, eta, phi, m = (two(arrays[b]).astype(np.float64) for b in REQUIRED)
        n_jets = ak.to_numpy(ak.num(arrays["FatJet_pt"], axis=1))
        cols["mjj"] = np.where(n_jets >= 2, dijet_mass(pt, eta, phi, m), 0.0)
    if "jet_const" in names:
        cols["jet_const"] = _constituents(arrays, two(ak.local_index(arrays["FatJet_pt"]), -1))
    return {n: cols[n] for n in names}


def _constituents(arrays: Any, lead_index: np.ndarray) -> Any:
    """(events, 2, var) records (pt, eta, phi) of the two leading jets, pT-ordered."""
    import awkward as ak

    idx = arrays["FatJetPFCands_pFCandsIdx"]
    cand = ak.zip({f: arrays[f"PFCands_{f}"][idx] for f in ("pt", "eta", "phi")})
    jets = []
    for k in range(2):
        mine = cand[arrays["FatJetPFCands_jetIdx"] == lead_index[:, k]]
        mine = mine[ak.argsort(mine.pt, axis=1, ascending=False, stable=True)]
        jets.append(mine[:, np.newaxis])
    return ak.from_regular(ak.concatenate(jets, axis=1), axis=1)  # as constituents_from_padded
