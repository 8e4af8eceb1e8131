from __future__ import annotations

import numpy as np

from casehunt.derived import derive_columns, dijet_mass
from casehunt.events import EventTable
from casehunt.toys import make_toy_events


def test_ratios_and_mass_ordering() -> None:
    events = EventTable(
        {
            "jet_tau1": np.array([[0.4, 0.5]]),
            "jet_tau2": np.array([[0.2, 0.0]]),
            "jet_tau3": np.array([[0.1, 0.0]]),
            "jet_tau4": np.array([[0.05, 0.0]]),
            "jet_msd": np.array([[50.0, 300.0]]),
            "jet_eta": np.array([[0.5, -0.3]]),
        }
    )
    d = derive_columns(events)
    np.testing.assert_allclose(d["jet_tau21"], [[0.5, 0.0]])
    np.testing.assert_allclose(d["jet_tau32"], [[0.5, 0.0]])  # 0 where tau2 is 0
    assert d["mj1"][0] == 300.0 and d["mj2"][0] == 50.0 and d["delta_mj"][0] == 250.0
    # j1 is the heavier jet, the second by pT here
    assert d["tau21_j1"][0] == 0.0 and d["tau21_j2"][0] == 0.5
    np.testing.assert_allclose(d["delta_eta"], [0.8])


def test_dijet_mass_matches_the_stored_mjj() -> None:
    events, _ = make_toy_events(2000, seed=4)
    m = dijet_mass(*(np.asarray(events[f"jet_{v}"], float) for v in ("pt", "eta", "phi", "m")))
    # the toy builds mjj for massless jets and smears pT by 2%: agreement to a few percent
    assert np.median(np.abs(m / events["mjj"] - 1)) < 0.03


def test_mjj_is_derived_only_when_missing() -> None:
    events, _ = make_toy_events(10, seed=1)
    assert "mjj" not in derive_columns(events)
    cols = {k: events[k] for k in events.columns if k != "mjj"}
    assert "mjj" in derive_columns(EventTable(cols))
