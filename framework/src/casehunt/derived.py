"""Derived columns: N-subjettiness ratios, mass-ordered jets, delta-eta, mjj.

Conventions (the two leading jets by pT are stored as per-jet (N, 2) columns `jet_*`):

- `jet_tau21`, `jet_tau32`, `jet_tau43`: tau_N / tau_(N-1) per jet (Thaler, Van Tilburg,
  arXiv:1011.2268); 0 where the denominator is 0.
- Jets ordered by mass, as in CASE (j1 is the jet with the larger soft-drop mass, the
  plain mass when no soft-drop mass is given): `mj1 >= mj2`, `delta_mj = mj1 - mj2`, and
  `<var>_j1`, `<var>_j2` for pt, eta, phi, tau21, tau32, tau43 and nconst.
- `delta_eta`: |eta_1 - eta_2| of the two leading jets.
- `mjj`: computed from the jet four-vectors only when the input has none.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from casehunt.events import EventTable


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast_shapes(num.shape, den.shape), dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def dijet_mass(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Invariant mass of the two jets from per-jet (N, 2) pt, eta, phi, m."""
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    s = e.sum(1) ** 2 - px.sum(1) ** 2 - py.sum(1) ** 2 - pz.sum(1) ** 2
    return np.sqrt(np.clip(s, 0.0, None))


def derive_columns(events: EventTable) -> dict[str, Any]:
    """The built-in derived columns for whatever per-jet inputs the table has."""
    new: dict[str, Any] = {}
    has = set(events.columns)
    f = lambda name: np.asarray(events[name], dtype=np.float64)  # noqa: E731

    for num, den in ((2, 1), (3, 2), (4, 3)):
        if {f"jet_tau{num}", f"jet_tau{den}"} <= has:
            new[f"jet_tau{num}{den}"] = _ratio(f(f"jet_tau{num}"), f(f"jet_tau{den}"))

    if "jet_eta" in has:
        eta = f("jet_eta")
        new["delta_eta"] = np.abs(eta[:, 0] - eta[:, 1])

    if "mjj" not in has and {"jet_pt", "jet_eta", "jet_phi", "jet_m"} <= has:
        new["mjj"] = dijet_mass(f("jet_pt"), f("jet_eta"), f("jet_phi"), f("jet_m"))

    mass_name = "jet_msd" if "jet_msd" in has else "jet_m" if "jet_m" in has else None
    if mass_name is not None:
        mass = f(mass_name)
        # index of the heavier jet: j1 has the larger (soft-drop) mass, as in CASE
        heavy = np.where(mass[:, 1] > mass[:, 0], 1, 0)
        rows = np.arange(len(mass))
        light = 1 - heavy
        new["mj1"] = mass[rows, heavy]
        new["mj2"] = mass[rows, light]
        new["delta_mj"] = new["mj1"] - new["mj2"]
        per_jet = {**{k: events[k] for k in events.columns}, **new}
        for var in ("pt", "eta", "phi", "m", "msd", "tau21", "tau32", "tau43", "nconst"):
            col = per_jet.get(f"jet_{var}")
            if col is not None and np.ndim(col) == 2:
                col = np.asarray(col)
                new[f"{var}_j1"] = col[rows, heavy]
                new[f"{var}_j2"] = col[rows, light]
    return new
