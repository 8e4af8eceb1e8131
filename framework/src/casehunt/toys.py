"""A fast parametric generator of dijet-like events, for unit tests and examples.

Not physics: a smooth falling mjj spectrum for QCD-like background with broad jet
masses and tau21 around 0.6, and a resonance decaying to two jets of fixed masses with
two-prong substructure (tau21 around 0.25). It fills the same columns as the HDF5
layout of the development dataset, so everything downstream of the reader sees the same
table it would see on real files.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from casehunt.events import EventTable

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
) -> tuple[EventTable, np.ndarray]:
    """Background then signal events in a table, and their truth labels (1 = signal)."""
    rng = np.random.default_rng(seed)
    nb, ns = int(n_background), int(n_signal)

    mjj_b = _sample_dijet_mjj(rng, nb, *mjj_range)
    m_b = np.clip(rng.exponential(0.07, (nb, 2)) * (mjj_b[:, None] / 2), 5.0, None)
    tau21_b = rng.beta(6.0, 4.0, (nb, 2))  # mean 0.6
    tau32_b = rng.beta(7.0, 3.0, (nb, 2))

    mjj_s = rng.normal(signal_mass, signal_width * signal_mass, ns)
    m_s = np.stack([rng.normal(mx, 0.06 * mx, ns), rng.normal(my, 0.08 * my, ns)], axis=1)
    m_s = np.clip(m_s, 5.0, None)
    tau21_s = rng.beta(2.5, 7.5, (ns, 2))  # mean 0.25: two prongs
    tau32_s = rng.beta(7.0, 3.0, (ns, 2))

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
    labels = np.concatenate([np.zeros(nb, dtype=np.int8), np.ones(ns, dtype=np.int8)])
    return EventTable(columns, source="toy"), labels


def write_toy_file(path: Path | str, n_events: int, *, signal: bool = False, seed: int = 0) -> Path:
    """A toy background (or pure signal) file in the development-dataset HDF5 layout."""
    nb, ns = (0, n_events) if signal else (n_events, 0)
    events, _ = make_toy_events(nb, ns, seed=seed)
    path = Path(path)
    with h5py.File(path, "w") as f:
        for name in events.columns:
            f.create_dataset(name, data=events[name])
        f.attrs["generator"] = "casehunt.toys"
        f.attrs["seed"] = seed
    return path
