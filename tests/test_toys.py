"""The toy generator's optional parts: three-prong signal and jet constituents."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from casehunt.readers import open_events, padded_from_constituents
from casehunt.toys import make_toy_events, write_toy_file


def _constituent_mass(padded: np.ndarray) -> np.ndarray:
    pt, eta, phi = (padded[..., i].astype(np.float64) for i in range(3))
    px, py, pz, e = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)
    m2 = e.sum(-1) ** 2 - px.sum(-1) ** 2 - py.sum(-1) ** 2 - pz.sum(-1) ** 2
    return np.sqrt(np.clip(m2, 0.0, None))


def test_constituents_do_not_change_the_other_columns() -> None:
    plain, labels = make_toy_events(500, 50, seed=3)
    with_const, labels2 = make_toy_events(500, 50, seed=3, n_constituents=20)
    assert np.array_equal(labels, labels2)
    for name in plain.columns:
        assert np.array_equal(plain[name], with_const[name]), name


def test_constituents_are_pt_ordered_and_carry_the_jet_pt() -> None:
    events, _ = make_toy_events(300, 30, seed=1, n_constituents=25)
    const = events["jet_const"]
    assert ak.all(ak.num(const, axis=2) <= 25)
    padded = padded_from_constituents(const, 25)
    assert padded.shape == (330, 2, 25, 3)
    assert np.all(np.diff(padded[..., 0], axis=-1) <= 0)  # pT-ordered, zero padding last
    total = padded[..., 0].sum(-1)
    assert np.allclose(total, events["jet_pt"], rtol=1e-4)


def test_signal_jets_have_prongs_at_the_decay_angle() -> None:
    # two narrow prongs at dR ~ 2 m / pT give the signal X jet a mass that tracks mx,
    # while a one-prong background jet's mass is a broad spread
    events, labels = make_toy_events(2000, 2000, seed=2, n_constituents=40, mx=500.0, my=100.0)
    mass = _constituent_mass(padded_from_constituents(events["jet_const"], 40))
    heavier = mass.max(axis=1)
    sig, bkg = heavier[labels == 1], heavier[labels == 0]
    assert 300 < np.median(sig) < 800
    assert np.median(sig) > 2 * np.median(bkg)


def test_three_prong_signal_has_low_tau32_on_the_x_jet() -> None:
    events, _ = make_toy_events(0, 3000, seed=5, x_prongs=3)
    tau32 = events["jet_tau3"] / events["jet_tau2"]
    heavy = np.argmax(events["jet_msd"], axis=1)
    x_tau32 = tau32[np.arange(3000), heavy]
    assert np.median(x_tau32) < 0.4
    two, _ = make_toy_events(0, 3000, seed=5)
    tau32_two = (two["jet_tau3"] / two["jet_tau2"])[np.arange(3000), np.argmax(two["jet_msd"], 1)]
    assert np.median(tau32_two) > 0.6
    with pytest.raises(ValueError, match="x_prongs"):
        make_toy_events(0, 10, x_prongs=4)


def test_constituents_round_trip_through_a_file(tmp_path) -> None:
    path = write_toy_file(tmp_path / "toy.h5", 200, signal=True, seed=4, n_constituents=15)
    expected, _ = make_toy_events(0, 200, seed=4, n_constituents=15)
    table = open_events(path).read()
    assert ak.all(table["jet_const"].pt == expected["jet_const"].pt)
