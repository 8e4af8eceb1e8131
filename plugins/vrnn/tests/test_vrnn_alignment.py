"""Jet alignment: the aligned frame is what arXiv:2105.09274 defines, and it forgets the boost."""

from __future__ import annotations

import numpy as np
import pytest

from casehunt_vrnn.alignment import REF_ENERGY, REF_MASS, align_jets, jet_mass, kt_distance


def random_jets(n: int = 300, m: int = 30, seed: int = 0) -> np.ndarray:
    """(n, m, 3) pT-ordered (pt, eta, phi) jets of 5..m constituents around random axes."""
    rng = np.random.default_rng(seed)
    pt = rng.exponential(1.0, (n, m)) * rng.uniform(50, 500, (n, 1))
    eta = rng.uniform(-2, 2, (n, 1)) + rng.normal(0, 0.3, (n, m))
    phi = rng.uniform(-np.pi, np.pi, (n, 1)) + rng.normal(0, 0.3, (n, m))
    jets = np.stack([pt, eta, np.mod(phi + np.pi, 2 * np.pi) - np.pi], -1)
    jets[np.arange(m)[None, :] >= rng.integers(5, m + 1, n)[:, None]] = 0.0
    order = np.argsort(-jets[..., 0], axis=1, kind="stable")
    return np.take_along_axis(jets, order[..., None], axis=1)


def two_body_jet(
    mass: float, energy: float, cos_theta: float, axis: tuple[float, float]
) -> np.ndarray:
    """(2, 3) (pt, eta, phi) of the massless daughters of a particle of `mass` decaying at
    `cos_theta` to its flight direction, flying with `energy` towards (eta, phi) = `axis`."""
    p_star = mass / 2
    sin_theta = np.sqrt(1 - cos_theta**2)
    gamma = energy / mass
    beta = np.sqrt(1 - 1 / gamma**2)
    daughters = []
    for sign in (1, -1):
        # rest frame, flight direction along x, decay plane x-y
        e, px, py = p_star, sign * p_star * cos_theta, sign * p_star * sin_theta
        e, px = gamma * (e + beta * px), gamma * (px + beta * e)
        daughters.append((px, py, 0.0))
    eta0, phi0 = axis
    theta0 = 2 * np.arctan(np.exp(-eta0))
    # rotate x onto the flight direction (polar angle theta0, azimuth phi0)
    d = np.array([np.sin(theta0) * np.cos(phi0), np.sin(theta0) * np.sin(phi0), np.cos(theta0)])
    u = np.array([-np.sin(phi0), np.cos(phi0), 0.0])
    w = np.cross(d, u)
    out = []
    for px, py, pz in daughters:
        v = px * d + py * u + pz * w
        pt = np.hypot(v[0], v[1])
        out.append((pt, np.arcsinh(v[2] / pt), np.arctan2(v[1], v[0])))
    out.sort(key=lambda c: -c[0])
    return np.array(out)


@pytest.mark.parametrize("alignment", ["full", "centred"])
def test_aligned_jet_is_the_reference_jet(alignment: str) -> None:
    jets = random_jets()
    seq, mask = align_jets(jets, 20, alignment)
    total = seq.astype(np.float64).sum(axis=1)
    if alignment == "full":
        # E = E_ref, along +x, mass m_ref
        p_ref = np.sqrt(REF_ENERGY**2 - REF_MASS**2)
        np.testing.assert_allclose(total[:, 0], REF_ENERGY, rtol=1e-5)
        np.testing.assert_allclose(total[:, 1], p_ref, rtol=1e-5)
    else:
        # centred: E = 1 along +x; the mass kept, over the energy at rapidity 0
        np.testing.assert_allclose(total[:, 0], 1.0, rtol=1e-5)
        mass = np.sqrt(np.maximum(total[:, 0] ** 2 - (total[:, 1:] ** 2).sum(1), 0))
        m = jet_mass(jets[:, :20])
        p = jets[:, :20, 0]
        pt = np.hypot((p * np.cos(jets[:, :20, 2])).sum(1), (p * np.sin(jets[:, :20, 2])).sum(1))
        np.testing.assert_allclose(mass, m / np.hypot(m, pt), rtol=1e-3)
    np.testing.assert_allclose(total[:, 2:], 0.0, atol=1e-5)
    assert mask.sum(1).tolist() == np.minimum((jets[..., 0] > 0).sum(1), 20).tolist()
    assert np.all(seq[~mask] == 0)


def test_hardest_constituent_fixes_the_orientation() -> None:
    jets = random_jets()
    seq, _ = align_jets(jets, 20, "full", ordering="pt")
    # pT order kept: index 0 is the hardest, 1 the second-hardest
    np.testing.assert_allclose(seq[:, 0, 3], 0.0, atol=1e-6)
    assert np.all(seq[:, 0, 2] >= -1e-6)
    assert np.all(seq[:, 1, 3] >= -1e-6)


def test_alignment_forgets_longitudinal_boost_rotation_and_scale() -> None:
    jets = random_jets()
    moved = jets.copy()
    real = moved[..., 0] > 0
    moved[..., 1] += 0.8 * real  # a boost along the beam shifts every eta
    moved[..., 2] = np.where(real, np.mod(moved[..., 2] + 2.1 + np.pi, 2 * np.pi) - np.pi, 0.0)
    moved[..., 0] *= 3.7  # every momentum scaled
    a, _ = align_jets(jets, 20, "full")
    b, _ = align_jets(moved, 20, "full")
    np.testing.assert_allclose(a, b, atol=2e-6)


def test_decays_of_any_mass_and_boost_align_to_one_pattern() -> None:
    # the same decay angle at another parent mass, energy and azimuth: the aligned
    # constituents are the same, which is what frees the score from the jet mass
    ref, _ = align_jets(two_body_jet(100.0, 1500.0, 0.3, (0.0, 1.0))[None], 2, "full", "pt")
    for mass, energy, phi in ((300.0, 1500.0, -2.0), (60.0, 2500.0, 3.0)):
        other, _ = align_jets(two_body_jet(mass, energy, 0.3, (0.0, phi))[None], 2, "full", "pt")
        np.testing.assert_allclose(other, ref, atol=1e-6)
        # away from rapidity 0 the beam boost and the boost along the jet compose to a
        # boost and a small (Wigner) rotation: the pattern is kept to 2% of the jet energy
        for eta in (-1.0, 1.5):
            other, _ = align_jets(
                two_body_jet(mass, energy, 0.3, (eta, phi))[None], 2, "full", "pt"
            )
            np.testing.assert_allclose(other, ref, atol=0.02)
    # centring alone keeps the mass: the opening angle scales as m / E
    c1, _ = align_jets(two_body_jet(100.0, 1500.0, 0.3, (0.0, 1.0))[None], 2, "centred", "pt")
    c2, _ = align_jets(two_body_jet(300.0, 1500.0, 0.3, (0.0, 1.0))[None], 2, "centred", "pt")
    assert np.abs(c1 - c2).max() > 0.05


def test_kt_ordering_is_descending_with_padding_last() -> None:
    jets = random_jets()
    seq_kt, mask = align_jets(jets, 20, "full", ordering="kt")
    kt = kt_distance(jets[:, :20])
    assert np.all(np.diff(mask.astype(int), axis=1) <= 0), "padding must come last"
    seq_pt, _ = align_jets(jets, 20, "full", ordering="pt")
    # the same constituents, sorted by descending kt
    order = np.argsort(-kt, axis=1, kind="stable")
    np.testing.assert_array_equal(np.take_along_axis(seq_pt, order[..., None], axis=1), seq_kt)
    kt_seq = np.take_along_axis(kt, order, axis=1)
    both_real = (kt_seq[:, 1:] >= 0) & (kt_seq[:, :-1] >= 0)
    assert np.all(np.diff(kt_seq, axis=1)[both_real] <= 0)


def test_bad_alignment_arguments() -> None:
    jets = random_jets(5)
    with pytest.raises(ValueError, match="alignment"):
        align_jets(jets, 20, "boosted")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ordering"):
        align_jets(jets, 20, "full", "eta")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ref_energy"):
        align_jets(jets, 20, "full", ref_mass=2.0, ref_energy=1.0)
