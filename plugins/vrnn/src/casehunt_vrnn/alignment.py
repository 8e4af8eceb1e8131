"""Jet alignment: every jet boosted and rotated into one reference frame, then ordered.

Kahn et al., "Anomalous jet identification via sequence modeling" (arXiv:2105.09274,
Sec. 3), used by the ATLAS search arXiv:2306.03637: before a sequence model reads a
jet's constituents, each jet is brought to the same mass, energy and orientation, so
that the model sees the *pattern* of the radiation, not the jet's mass or momentum. A
score on aligned jets is far less correlated with the jet mass than one on jets that are
only centred, and a cut on it sculpts the background mass spectrum less.

Steps, on the massless four-vectors of the ``n`` hardest constituents (the jet is their
sum, so the aligned constituents add up exactly to the reference jet):

1. boost along the beam so that the jet has pz = 0 (rapidity 0);
2. rotate about the beam so that the jet points along +x (phi = 0);
3. rescale every four-vector by m_ref / m_jet: the jet mass becomes m_ref;
4. boost along x so that the jet energy becomes E_ref;
5. rotate about x so that the hardest constituent lies in the x-y plane, py > 0;
6. reflect z -> -z if the second-hardest constituent has pz < 0.

Steps 1-4 bring every decay of a given rest-frame configuration to the same constituents
whatever the parent's mass and momentum: exactly for a jet at rapidity 0; elsewhere the
beam boost and the boost along the jet compose to one boost and a small Wigner rotation.

"centred" stops after step 2 and divides by the jet energy (no mass information is
removed): the comparison that shows what alignment buys. The constituents are then
ordered by their kt distance to the jet axis, d = pT * Delta R (lab frame), largest
first (arXiv:2105.09274), or kept pT-ordered.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Alignment = Literal["full", "centred"]
Ordering = Literal["kt", "pt"]
#: Reference jet mass and energy [GeV] of the aligned frame (arXiv:2105.09274): E/m = 4,
#: so the aligned jet's constituents open up to angles of order 1/4.
REF_MASS = 0.25
REF_ENERGY = 1.0


def four_vectors(padded: np.ndarray) -> np.ndarray:
    """(..., M, 4) massless (E, px, py, pz) of (..., M, 3) (pt, eta, phi); padding stays 0."""
    pt, eta, phi = (padded[..., i].astype(np.float64) for i in range(3))
    p4 = np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], -1)
    p4[pt <= 0] = 0.0
    return p4


def align_jets(
    padded: np.ndarray,
    n_constituents: int = 20,
    alignment: Alignment = "full",
    ordering: Ordering = "kt",
    ref_mass: float = REF_MASS,
    ref_energy: float = REF_ENERGY,
) -> tuple[np.ndarray, np.ndarray]:
    """Aligned, ordered constituent sequences of jets.

    `padded` is (J, M, 3) (pt, eta, phi), pT-ordered and zero-padded, one row per jet.
    Returns the (J, n, 4) sequences (E, px, py, pz) in the aligned frame and the (J, n)
    mask of real constituents (sequences are left-aligned: padding at the end).
    """
    if ref_energy <= ref_mass:
        raise ValueError(f"ref_energy ({ref_energy}) must exceed ref_mass ({ref_mass})")
    const = np.asarray(padded)[:, :n_constituents]
    p4 = four_vectors(const)
    mask = const[..., 0] > 0
    jet = p4.sum(axis=1)

    # 1. longitudinal boost to pz = 0
    p4 = _boost(p4, jet[:, 3] / np.where(jet[:, 0] > 0, jet[:, 0], 1.0), axis=3)
    # 2. rotation about z to phi = 0
    jet = p4.sum(axis=1)
    p4 = _rotate(p4, np.arctan2(jet[:, 2], jet[:, 1]), axes=(1, 2))
    jet = p4.sum(axis=1)
    if alignment == "centred":
        p4 = p4 / np.where(jet[:, 0] > 0, jet[:, 0], 1.0)[:, None, None]
    elif alignment == "full":
        p4 = _to_reference(p4, jet, ref_mass, ref_energy)
        # 5. rotation about x: the hardest constituent (index 0) into the x-y plane
        p4 = _rotate(p4, np.arctan2(p4[:, 0, 3], p4[:, 0, 2]), axes=(2, 3))
        # 6. reflection: the second-hardest at pz >= 0
        flip = p4[:, 1, 3] < 0
        p4[flip, :, 3] *= -1.0
    else:
        raise ValueError(f"alignment must be 'full' or 'centred', got {alignment!r}")
    p4[~mask] = 0.0

    if ordering == "kt":
        order = np.argsort(-kt_distance(const), axis=1, kind="stable")
    elif ordering == "pt":
        order = np.argsort(~mask, axis=1, kind="stable")  # pT order, padding last
    else:
        raise ValueError(f"ordering must be 'kt' or 'pt', got {ordering!r}")
    p4 = np.take_along_axis(p4, order[..., None], axis=1)
    mask = np.take_along_axis(mask, order, axis=1)
    return p4.astype(np.float32), mask


def kt_distance(padded: np.ndarray) -> np.ndarray:
    """(J, M) pT * Delta R of each constituent to the jet they form (lab frame); -1 for padding."""
    p4 = four_vectors(padded)
    jet = p4.sum(axis=1)
    # the jet's rapidity (a massless constituent's is its eta): Delta R is then exactly
    # invariant under boosts along the beam, as in FastJet
    e, pz = jet[:, 0], jet[:, 3]
    y_j = 0.5 * np.log(np.maximum(e + pz, 1e-300) / np.maximum(e - pz, 1e-300))
    phi_j = np.arctan2(jet[:, 2], jet[:, 1])
    pt, eta, phi = (padded[..., i].astype(np.float64) for i in range(3))
    d_phi = np.mod(phi - phi_j[:, None] + np.pi, 2 * np.pi) - np.pi
    kt = pt * np.hypot(eta - y_j[:, None], d_phi)
    return np.where(pt > 0, kt, -1.0)


def jet_mass(padded: np.ndarray) -> np.ndarray:
    """(J,) invariant mass of the sum of each jet's constituents."""
    jet = four_vectors(padded).sum(axis=1)
    return np.sqrt(np.maximum(jet[:, 0] ** 2 - (jet[:, 1:] ** 2).sum(axis=1), 0.0))


def _to_reference(
    p4: np.ndarray, jet: np.ndarray, ref_mass: float, ref_energy: float
) -> np.ndarray:
    """Steps 3 and 4 for jets along +x: mass rescaled to ref_mass, boosted to ref_energy."""
    e, p = jet[:, 0], jet[:, 1]
    m = np.sqrt(np.maximum(e**2 - p**2, 0.0))
    massive = m > 1e-9 * np.maximum(e, 1e-300)
    # a massless jet (one constituent, or collinear ones) has no rest frame: scale it to
    # the reference energy and leave it along x
    scale = np.where(
        massive, ref_mass / np.where(massive, m, 1.0), ref_energy / np.maximum(e, 1e-300)
    )
    p4 = p4 * scale[:, None, None]
    # boost along x: velocity v = p/E -> v_ref = p_ref/E_ref, by relativistic subtraction
    v = np.where(massive, p / np.where(e > 0, e, 1.0), 0.0)
    v_ref = np.sqrt(ref_energy**2 - ref_mass**2) / ref_energy
    beta = np.where(massive, (v - v_ref) / (1.0 - v * v_ref), 0.0)
    return _boost(p4, beta, axis=1)


def _boost(p4: np.ndarray, beta: np.ndarray, axis: int) -> np.ndarray:
    """Lorentz boost of (J, M, 4) by velocity `beta` (J,) along the spatial `axis` (1-3)."""
    beta = np.clip(beta, -1 + 1e-15, 1 - 1e-15)[:, None]
    gamma = 1.0 / np.sqrt(1.0 - beta**2)
    out = p4.copy()
    e, q = p4[..., 0], p4[..., axis]
    out[..., 0] = gamma * (e - beta * q)
    out[..., axis] = gamma * (q - beta * e)
    return out


def _rotate(p4: np.ndarray, angle: np.ndarray, axes: tuple[int, int]) -> np.ndarray:
    """Rotation of the (a, b) components of (J, M, 4) by -angle: a vector at `angle` goes to 0."""
    a, b = axes
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    out = p4.copy()
    out[..., a] = c * p4[..., a] + s * p4[..., b]
    out[..., b] = -s * p4[..., a] + c * p4[..., b]
    return out
