from __future__ import annotations

import numpy as np
import pytest

from casehunt.errors import ConfigError
from casehunt.events import EventTable
from casehunt.preselection import Preselection, builtin_cuts, resolve_config


def events() -> EventTable:
    return EventTable(
        {
            "jet_pt": np.array([[400, 350], [400, 250], [500, 400], [500, 400], [900, 800]]),
            "jet_eta": np.array([[0.1, 0.2], [0.1, 0.2], [2.6, 0.0], [1.0, -0.5], [0.0, 0.5]]),
            "delta_eta": np.array([0.1, 0.1, 2.6, 1.5, 0.5]),
            "mjj": np.array([1500.0, 1500, 1500, 1500, 1400]),
        }
    )


def test_case_defaults_and_cutflow() -> None:
    presel = Preselection(builtin_cuts(resolve_config({})))
    keep = presel.apply(events())
    np.testing.assert_array_equal(keep, [True, False, False, False, False])
    flow = presel.cutflow.to_dict()
    assert [r["cut"] for r in flow["cuts"]] == ["jet_pt", "jet_eta", "delta_eta", "mjj_min"]
    assert [r["events"] for r in flow["cuts"]] == [4, 3, 2, 1]
    assert flow["initial"] == 5 and flow["final"] == 1


def test_each_cut_uses_its_own_threshold() -> None:
    cuts = builtin_cuts(
        resolve_config({"jet_pt_min": 300, "mjj_min": 1000, "windows": {"jet_eta": [-1, 1]}})
    )
    by_name = {c.name: c for c in cuts}
    np.testing.assert_array_equal(
        by_name["jet_pt"].passes(events()), [True, False, True, True, True]
    )
    np.testing.assert_array_equal(
        by_name["window_jet_eta"].passes(events()), [True, True, False, False, True]
    )  # eta = 1.0 is outside [-1, 1)


def test_null_switches_a_cut_off_and_unknown_keys_fail() -> None:
    assert "mjj_min" not in {c.name for c in builtin_cuts(resolve_config({"mjj_min": None}))}
    with pytest.raises(ConfigError, match=r"preselection\.pt_min"):
        resolve_config({"pt_min": 3})
    with pytest.raises(ConfigError, match=r"preselection\.mjj_min must be a number"):
        resolve_config({"mjj_min": "high"})


def test_cutflow_adds_up_over_chunks() -> None:
    presel = Preselection(builtin_cuts(resolve_config({})))
    ev = events()
    presel.apply(ev.take(np.arange(3)))
    presel.apply(ev.take(np.arange(3, 5)))
    assert presel.cutflow.to_dict()["initial"] == 5
    assert presel.cutflow.passed == [4, 3, 2, 1]
