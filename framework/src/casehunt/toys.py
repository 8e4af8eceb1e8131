"""A fast parametric generator of dijet-like events, for unit tests and examples.

Not physics: a smooth falling mjj spectrum for QCD-like background with broad jet
masses and tau21 around 0.6, and a resonance decaying to two jets of fixed masses with
two-prong substructure (tau21 around 0.25), or a three-prong heavier jet. It fills the
same columns as the HDF5 layout of the development dataset, so everything downstream of
the reader sees the same table it would see on real files; optionally also toy jet
constituents (one diffuse prong for background jets, two or three narrow prongs for
signal jets) for the methods that read them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from casehunt.events import EventTable
from casehunt.readers import constituents_from_padded, padded_from_constituents

SQRT_S = 13000.0


def _sample_dijet_mjj(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    # inverse-CDF sampling of (1-x)^10 / x^5, x = mjj / sqrt(s): a CMS-dijet-like fall-off
    grid = np.linspace(low, high, 4001)
    x = grid / SQRT_S
    pdf = (1 - x) ** 10 / x**5
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
    cdf /= cdf[-1]
    return np.interp(rng.random(n), cdf, grid)


def _jets_from_mjj(rng: np.random.Generator, mjj: np.ndarray, masses: np.ndarray) -> dict:
    n = len(mjj)
    y = rng.normal(0.0, 0.6, n)
    deta = rng.uniform(-1.5, 1.5, n)
    eta = np.stack([y + deta / 2, y - deta / 2], axis=1)
    # massless approximation: mjj = 2 pT cosh(deta / 2)
    pt = np.repeat((mjj / (2 * np.cosh(deta / 2)))[:, None], 2, axis=1)
    pt *= rng.normal(1.0, 0.02, (n, 2))
    phi1 = rng.uniform(-np.pi, np.pi, n)
    phi = np.stack([phi1, np.mod(phi1 + 2 * np.pi, 2 * np.pi) - np.pi], axis=1)
    order = np.argsort(-pt, axis=1)  # leading jet first
    take = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
    return {"pt": take(pt), "eta": take(eta), "phi": take(phi), "msd": take(masses), "order": order}


def make_toy_events(
    n_background: int,
    n_signal: int = 0,
    *,
    seed: int = 0,
    mjj_range: tuple[float, float] = (2500.0, 7000.0),
    signal_mass: float = 3500.0,
    signal_width: float = 0.04,
    mx: float = 500.0,
    my: float = 100.0,
    x_prongs: int = 2,
    n_constituents: int = 0,
    background_mass_scale: float = 1.0,
    background_tau21_shift: float = 0.0,
) -> tuple[EventTable, np.ndarray]:
    """Background then signal events in a table, and their truth labels (1 = signal).

    `x_prongs` = 3 gives the heavier signal jet (mass `mx`) three-prong substructure;
    `n_constituents` > 0 adds ``jet_const`` (N, 2, M, 3) as in generated files. Both
    draw from their own random stream, so the other columns do not depend on them.

    `background_mass_scale` and `background_tau21_shift` mismodel the background (jet
    masses scaled, tau21 shifted), to make a toy "simulation" that differs from toy
    "data" as a generator with other settings would (SALAD, arXiv:2001.05001). At their
    defaults the events are exactly those made without them.
    """
    if x_prongs not in (2, 3):
        raise ValueError(f"x_prongs must be 2 or 3, got {x_prongs!r}")
    rng = np.random.default_rng(seed)
    extra_rng = np.random.default_rng([seed, 1])
    nb, ns = int(n_background), int(n_signal)

    mjj_b = _sample_dijet_mjj(rng, nb, *mjj_range)
    m_b = rng.exponential(0.07, (nb, 2)) * (mjj_b[:, None] / 2) * background_mass_scale
    m_b = np.clip(m_b, 5.0, None)
    tau21_b = rng.beta(6.0, 4.0, (nb, 2))  # mean 0.6
    if background_tau21_shift != 0.0:
        tau21_b = np.clip(tau21_b + background_tau21_shift, 0.01, 0.99)
    tau32_b = rng.beta(7.0, 3.0, (nb, 2))

    mjj_s = rng.normal(signal_mass, signal_width * signal_mass, ns)
    m_s = np.stack([rng.normal(mx, 0.06 * mx, ns), rng.normal(my, 0.08 * my, ns)], axis=1)
    m_s = np.clip(m_s, 5.0, None)
    tau21_s = rng.beta(2.5, 7.5, (ns, 2))  # mean 0.25: two prongs
    tau32_s = rng.beta(7.0, 3.0, (ns, 2))
    prongs_s = np.stack([np.full(ns, x_prongs), np.full(ns, 2)], axis=1)
    if x_prongs == 3:  # X jet: tau21 near background, tau32 low
        tau21_s[:, 0] = extra_rng.beta(5.0, 5.0, ns)
        tau32_s[:, 0] = extra_rng.beta(3.0, 7.0, ns)

    mjj = np.concatenate([mjj_b, mjj_s])
    jets = _jets_from_mjj(rng, mjj, np.concatenate([m_b, m_s]))
    order = jets.pop("order")
    tau21 = np.take_along_axis(np.concatenate([tau21_b, tau21_s]), order, axis=1)
    tau32 = np.take_along_axis(np.concatenate([tau32_b, tau32_s]), order, axis=1)
    tau43 = rng.beta(7.5, 2.5, (nb + ns, 2))
    tau1 = rng.uniform(0.2, 0.4, (nb + ns, 2))
    tau2 = tau1 * tau21
    tau3 = tau2 * tau32
    tau4 = tau3 * tau43
    msd = jets["msd"]
    nconst = np.concatenate([rng.poisson(60, (nb, 2)), rng.poisson(80, (ns, 2))])
    nconst = np.take_along_axis(nconst, order, axis=1)
    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
    columns = {
        "mjj": f32(mjj),
        "jet_pt": f32(jets["pt"]),
        "jet_eta": f32(jets["eta"]),
        "jet_phi": f32(jets["phi"]),
        "jet_m": f32(msd + rng.exponential(15.0, msd.shape)),  # plain mass carries the UE
        "jet_msd": f32(msd),
        "jet_tau1": f32(tau1),
        "jet_tau2": f32(tau2),
        "jet_tau3": f32(tau3),
        "jet_tau4": f32(tau4),
        "jet_nconst": nconst.astype(np.int32),
        "pthat": f32(jets["pt"][:, 0] * 0.95),
        "weight": np.ones(nb + ns, dtype=np.float32),
    }
    if n_constituents > 0:
        prongs = np.concatenate([np.ones((nb, 2), dtype=np.int64), prongs_s])
        prongs = np.take_along_axis(prongs, order, axis=1)
        padded = _toy_constituents(
            extra_rng, jets, prongs, np.minimum(nconst, n_constituents), n_constituents
        )
        columns["jet_const"] = constituents_from_padded(padded)  # as the reader gives them
    labels = np.concatenate([np.zeros(nb, dtype=np.int8), np.ones(ns, dtype=np.int8)])
    return EventTable(columns, source="toy"), labels


def _toy_constituents(
    rng: np.random.Generator, jets: dict, prongs: np.ndarray, n_kept: np.ndarray, m: int
) -> np.ndarray:
    """(N, 2, M, 3) zero-padded, pT-ordered (pt, eta, phi) constituents around each jet axis.

    Each jet has 1-3 prongs; prong k carries a momentum fraction and sits at an angle
    from the axis of about 2 m / pT (the opening angle of a two-body decay), its
    constituents spread around it. Background jets are one broad prong whose width
    also scales with m / pT. Not physics; just enough structure to learn from.
    """
    n = len(prongs)
    pt, eta, phi, mass = jets["pt"], jets["eta"], jets["phi"], jets["msd"]
    ratio = np.clip(mass / pt, 0.01, 0.6)
    # prong momentum fractions (Dirichlet), unused prongs get zero
    z = rng.dirichlet([2.0, 2.0, 2.0], (n, 2))
    z[prongs < 3, 2] = 0.0
    z[prongs < 2, 1] = 0.0
    z /= z.sum(axis=-1, keepdims=True)
    # prong directions: opening angle ~ 2 m / pT, random orientation
    dr = 2.0 * ratio[..., None] * rng.uniform(0.7, 1.3, (n, 2, 3))
    angle = rng.uniform(0, 2 * np.pi, (n, 2, 1)) + np.array([0.0, 2.1, 4.2])
    centre_eta = dr * np.cos(angle) * (prongs[..., None] > 1)
    centre_phi = dr * np.sin(angle) * (prongs[..., None] > 1)
    # constituents: prong assignment by momentum fraction, pT shares from a steep Dirichlet
    which = (rng.random((n, 2, m, 1)) > np.cumsum(z, axis=-1)[:, :, None, :]).sum(axis=-1)
    which = np.minimum(which, 2)
    share = rng.gamma(0.6, 1.0, (n, 2, m))
    share[np.arange(m)[None, None, :] >= n_kept[..., None]] = 0.0
    share /= np.maximum(share.sum(axis=-1, keepdims=True), 1e-12)
    width = np.where(prongs > 1, 0.03, np.clip(ratio, 0.03, 0.3))[..., None]
    take = lambda a: np.take_along_axis(a, which, axis=-1)  # noqa: E731
    d_eta = take(centre_eta) + rng.normal(0.0, 1.0, (n, 2, m)) * width
    d_phi = take(centre_phi) + rng.normal(0.0, 1.0, (n, 2, m)) * width
    const = np.stack(
        [share * pt[..., None], eta[..., None] + d_eta, phi[..., None] + d_phi], axis=-1
    )
    const[..., 2] = np.mod(const[..., 2] + np.pi, 2 * np.pi) - np.pi
    const[share == 0.0] = 0.0
    order = np.argsort(-const[..., 0], axis=-1, kind="stable")
    return np.take_along_axis(const, order[..., None], axis=2).astype(np.float32)


def write_toy_file(
    path: Path | str,
    n_events: int,
    *,
    signal: bool = False,
    seed: int = 0,
    n_constituents: int = 0,
    **options: Any,
) -> Path:
    """A toy background (or pure signal) file in the development-dataset HDF5 layout.

    `options` go to :func:`make_toy_events` (e.g. ``mx``, ``x_prongs``).
    """
    nb, ns = (0, n_events) if signal else (n_events, 0)
    events, _ = make_toy_events(nb, ns, seed=seed, n_constituents=n_constituents, **options)
    path = Path(path)
    with h5py.File(path, "w") as f:
        for name in events.columns:
            if name == "jet_const":
                f.create_dataset(name, data=padded_from_constituents(events[name], n_constituents))
            else:
                f.create_dataset(name, data=events[name])
        f.attrs["generator"] = "casehunt.toys"
        f.attrs["seed"] = seed
    return path
