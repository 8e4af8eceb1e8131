"""Helpers shared by the readers of external formats: kinematics, jet ordering, errors."""

from __future__ import annotations

import numpy as np

from casehunt.errors import PluginError

#: Per-jet float columns, in the order the generator fills them and the readers return them.
JET_FLOATS = (
    "jet_pt",
    "jet_eta",
    "jet_phi",
    "jet_m",
    "jet_msd",
    "jet_tau1",
    "jet_tau2",
    "jet_tau3",
    "jet_tau4",
)


def pt_eta_phi(
    px: np.ndarray, py: np.ndarray, pz: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pT, pseudorapidity and azimuth from Cartesian momenta; eta = 0 where pT = 0.

    A zero-momentum entry is padding (or a missing jet) in these formats, and a finite
    eta keeps :func:`casehunt.events.check_finite` quiet; the pT cut removes such jets.
    """
    px, py, pz = (np.asarray(v, dtype=np.float64) for v in (px, py, pz))
    pt = np.hypot(px, py)
    eta = np.zeros_like(pt)
    np.arcsinh(pz / np.where(pt > 0, pt, 1.0), out=eta, where=pt > 0)
    return pt, eta, np.arctan2(py, px)


def dijet_mass_xyz(px: np.ndarray, py: np.ndarray, pz: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Invariant mass of the sum of the two jets from per-jet (N, 2) px, py, pz, m."""
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    s = e.sum(1) ** 2 - px.sum(1) ** 2 - py.sum(1) ** 2 - pz.sum(1) ** 2
    return np.sqrt(np.clip(s, 0.0, None))


def leading_first(pt: np.ndarray) -> np.ndarray:
    """Rows where the second jet has the larger pT (these rows must swap their jets)."""
    return pt[:, 1] > pt[:, 0]


def swap_jets(values: np.ndarray, swap: np.ndarray) -> np.ndarray:
    """(N, 2, ...) per-jet values with the two jets exchanged in the rows `swap`."""
    out = np.array(values, copy=True)
    out[swap] = values[swap][:, ::-1]
    return out


def chunk_bounds(n: int, start: int, stop: int | None, chunk_size: int) -> list[tuple[int, int]]:
    """[lo, hi) event ranges of at most `chunk_size` covering [start, min(stop, n))."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    stop = n if stop is None else min(stop, n)
    return [(lo, min(lo + chunk_size, stop)) for lo in range(max(start, 0), stop, chunk_size)]


def require_module(name: str, fmt: str) -> None:
    """Fail with an install hint when an optional dependency of a reader is missing."""
    try:
        __import__(name)
    except ImportError:
        raise PluginError(
            f"the {fmt!r} reader needs {name}, which is not installed: "
            "pip install 'casehunt[formats]'"
        ) from None
