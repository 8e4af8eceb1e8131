"""The readers of external formats (casehunt.formats): each test writes its own small file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from casehunt.cli import main
from casehunt.errors import InputError
from casehunt.formats import CASEReader, LHCOFeaturesReader, LHCOParticlesReader, NanoAODReader
from casehunt.readers import EventReader, open_events

LHCO_FEATURES = "pxj1 pyj1 pzj1 mj1 tau1j1 tau2j1 tau3j1 pxj2 pyj2 pzj2 mj2 tau1j2 tau2j2 tau3j2"


def _truncate(path: Path, fraction: float = 0.5) -> Path:
    cut = path.with_name("cut_" + path.name)
    data = path.read_bytes()
    cut.write_bytes(data[: int(len(data) * fraction)])
    return cut


def _same_tables(a: Any, b: Any) -> None:
    assert a.columns == b.columns
    for name in a.columns:
        if name == "jet_const":
            assert a[name].tolist() == b[name].tolist()
        else:
            np.testing.assert_array_equal(a[name], b[name])


def _check_chunks(reader: EventReader, chunk_size: int, start: int, stop: int) -> None:
    """Chunks of [start, stop) are the same events as one read of that range."""
    chunks = list(reader.iter_chunks(chunk_size=chunk_size, start=start, stop=stop))
    assert [c.n_events for c in chunks[:-1]] == [chunk_size] * (len(chunks) - 1)
    whole = reader.read(start=start, stop=stop)
    assert whole.n_events == stop - start
    joined = chunks[0] if len(chunks) == 1 else type(whole).concatenate(chunks)
    _same_tables(joined, whole)


# --- LHC Olympics features -------------------------------------------------------------


def _lhco_frame(n: int, seed: int = 0) -> Any:
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {}
    for j, sign in ((1, 1.0), (2, -1.0)):
        pt = rng.uniform(200.0, 2000.0, n)
        phi = rng.uniform(-np.pi, np.pi, n)
        eta = rng.uniform(-2.0, 2.0, n)
        cols[f"pxj{j}"] = sign * pt * np.cos(phi)
        cols[f"pyj{j}"] = sign * pt * np.sin(phi)
        cols[f"pzj{j}"] = pt * np.sinh(eta)
        cols[f"mj{j}"] = rng.uniform(10.0, 600.0, n)
        for k in (1, 2, 3):
            cols[f"tau{k}j{j}"] = rng.uniform(0.0, 1.0, n)
    cols["label"] = (rng.uniform(size=n) < 0.1).astype(np.float64)
    return pd.DataFrame(cols)


def _write_lhco(path: Path, n: int, fmt: str = "fixed", seed: int = 0) -> Any:
    pytest.importorskip("tables")
    df = _lhco_frame(n, seed)
    df.to_hdf(path, key="df", mode="w", format=fmt)
    return df


def test_lhco_features_known_event(tmp_path: Path) -> None:
    df = _lhco_frame(2)
    # event 0: back-to-back jets at eta = 0, j2 harder than j1
    df.loc[0, LHCO_FEATURES.split()] = [
        800,
        0,
        0,
        100,
        0.5,
        0.25,
        0.2,
        -1000,
        0,
        0,
        50,
        0.4,
        0.3,
        0.1,
    ]
    path = tmp_path / "events_anomalydetection_v2.features.h5"
    pytest.importorskip("tables")
    df.to_hdf(path, key="df", mode="w")
    ev = LHCOFeaturesReader(path).read()
    assert ev.columns == list(LHCOFeaturesReader.COLUMNS)
    np.testing.assert_allclose(ev["jet_pt"][0], [1000.0, 800.0])
    np.testing.assert_allclose(ev["jet_m"][0], [50.0, 100.0])
    np.testing.assert_allclose(ev["jet_tau2"][0], [0.3, 0.25])
    np.testing.assert_allclose(ev["jet_eta"][0], [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(np.abs(ev["jet_phi"][0]), [np.pi, 0.0])
    e1, e2 = np.hypot(1000, 50), np.hypot(800, 100)
    np.testing.assert_allclose(ev["mjj"][0], np.sqrt((e1 + e2) ** 2 - 200.0**2))
    assert np.all(ev["jet_pt"][:, 0] >= ev["jet_pt"][:, 1])


@pytest.mark.parametrize("fmt", ["fixed", "table"])
def test_lhco_features_chunks_and_labels(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"features_{fmt}.h5"
    df = _write_lhco(path, 1000, fmt)
    reader = open_events(path, format="lhco-features")
    assert isinstance(reader, LHCOFeaturesReader)
    assert reader.n_events() == 1000
    _check_chunks(reader, 128, 100, 900)
    pt1 = np.hypot(df.pxj1, df.pyj1).to_numpy()
    pt2 = np.hypot(df.pxj2, df.pyj2).to_numpy()
    np.testing.assert_allclose(reader.read(["jet_pt"])["jet_pt"][:, 0], np.maximum(pt1, pt2))
    np.testing.assert_array_equal(reader.read_labels(10, 20), df.label.to_numpy()[10:20])
    assert "label" not in reader.available_columns()


def test_lhco_features_integer_label_block(tmp_path: Path) -> None:
    """An integer label is a second pandas block; it is read from there."""
    pytest.importorskip("tables")
    df = _lhco_frame(50)
    df["label"] = df["label"].astype(np.int64)
    path = tmp_path / "features.h5"
    df.to_hdf(path, key="df", mode="w")
    reader = LHCOFeaturesReader(path)
    np.testing.assert_array_equal(reader.read_labels(), df.label.to_numpy())
    np.testing.assert_allclose(
        reader.read(["jet_tau1"])["jet_tau1"].sum(), df[["tau1j1", "tau1j2"]].to_numpy().sum()
    )


def test_lhco_features_has_no_soft_drop_mass(tmp_path: Path) -> None:
    path = tmp_path / "features.h5"
    _write_lhco(path, 10)
    with pytest.raises(InputError, match=r"missing column\(s\) 'jet_msd'"):
        LHCOFeaturesReader(path).read(["jet_msd"])


def test_lhco_features_rejects_other_layouts(tmp_path: Path, toy_files: dict[str, Path]) -> None:
    with pytest.raises(InputError, match=r"data\.h5: not a pandas HDF5 file.*format 'hdf5'"):
        LHCOFeaturesReader(toy_files["data"])
    pytest.importorskip("tables")
    path = tmp_path / "short.h5"
    _lhco_frame(5).drop(columns=["tau3j2"]).to_hdf(path, key="df", mode="w")
    with pytest.raises(InputError, match=r"short\.h5: missing column\(s\) tau3j2"):
        LHCOFeaturesReader(path)


def test_lhco_features_truncated(tmp_path: Path) -> None:
    path = tmp_path / "features.h5"
    _write_lhco(path, 5000)
    with pytest.raises(InputError, match=r"cut_features\.h5"):
        LHCOFeaturesReader(_truncate(path)).read()


# --- LHC Olympics particles ------------------------------------------------------------


def _cluster_particles(
    rng: np.random.Generator, pt: float, eta: float, phi: float, n: int
) -> np.ndarray:
    """n particles (pT, eta, phi) within dR < 0.3 of (eta, phi) with summed pT about `pt`."""
    share = rng.dirichlet(np.ones(n)) * pt
    return np.stack(
        [share, eta + rng.uniform(-0.2, 0.2, n), phi + rng.uniform(-0.2, 0.2, n)], axis=1
    )


def _expected_jet(p: np.ndarray) -> tuple[float, float]:
    """pT and mass of the massless particles' summed four-vector."""
    px, py = (p[:, 0] * np.cos(p[:, 2])).sum(), (p[:, 0] * np.sin(p[:, 2])).sum()
    pz, e = (p[:, 0] * np.sinh(p[:, 1])).sum(), (p[:, 0] * np.cosh(p[:, 1])).sum()
    return float(np.hypot(px, py)), float(np.sqrt(e**2 - px**2 - py**2 - pz**2))


def _write_particles(path: Path, n: int, labels: bool = True) -> list[list[np.ndarray]]:
    """Events of two clusters (the last: one cluster, then an empty event); returns clusters."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("tables")
    rng = np.random.default_rng(5)
    rows = np.zeros((n, 2100))
    clusters = []
    for i in range(n):
        if i == n - 1:
            parts = []
        elif i == n - 2:
            parts = [_cluster_particles(rng, 1500.0, 0.5, 1.0, 5)]
        else:
            parts = [
                _cluster_particles(rng, rng.uniform(1000, 1600), rng.uniform(-1, 1), 0.0, 12),
                _cluster_particles(rng, rng.uniform(500, 1000), rng.uniform(-1, 1), 3.0, 8),
            ]
        clusters.append(parts)
        flat = np.concatenate(parts) if parts else np.zeros((0, 3))
        rows[i, : flat.size] = flat.reshape(-1)
    df = pd.DataFrame(rows)
    if labels:
        df[2100] = np.arange(n) % 2
    df.to_hdf(path, key="df", mode="w")
    return clusters


def test_lhco_particles_clusters_known_jets(tmp_path: Path) -> None:
    pytest.importorskip("fastjet")
    path = tmp_path / "events_anomalydetection.h5"
    clusters = _write_particles(path, 12)
    reader = open_events(path, format="lhco-particles")
    assert isinstance(reader, LHCOParticlesReader)
    ev = reader.read()
    assert ev.n_events == 12
    for i, parts in enumerate(clusters[:-2]):
        expected = sorted((_expected_jet(p) for p in parts), reverse=True)
        np.testing.assert_allclose(ev["jet_pt"][i], [e[0] for e in expected], rtol=1e-6)
        np.testing.assert_allclose(ev["jet_m"][i], [e[1] for e in expected], rtol=1e-5, atol=1e-3)
        np.testing.assert_array_equal(
            ev["jet_nconst"][i], [len(p) for p in sorted(parts, key=lambda p: -_expected_jet(p)[0])]
        )
        assert ev["mjj"][i] > ev["jet_pt"][i].sum() * 0.9
        assert np.all(ev["jet_msd"][i] <= ev["jet_m"][i] + 1e-6)
    # one jet: the second is zeros with pT = 0 and mjj = 0; an empty event is all zeros
    np.testing.assert_allclose(
        ev["jet_pt"][-2], [_expected_jet(clusters[-2][0])[0], 0.0], rtol=1e-6
    )
    assert ev["mjj"][-2] == 0.0 and ev["mjj"][-1] == 0.0
    assert np.all(ev["jet_pt"][-1] == 0.0)
    for name in ev.columns:
        if name != "jet_const":
            assert np.all(np.isfinite(ev[name])), name
    const = ev["jet_const"]
    assert [len(c) for c in const[0].pt.tolist()] == list(ev["jet_nconst"][0])
    np.testing.assert_allclose(
        float(np.sum(const[0][0].pt)), sorted(p[:, 0].sum() for p in clusters[0])[-1], rtol=1e-5
    )
    np.testing.assert_array_equal(reader.read_labels(), np.arange(12) % 2)
    _check_chunks(LHCOParticlesReader(path, batch_size=4), 5, 1, 12)


def test_lhco_particles_layout_checks(tmp_path: Path, toy_files: dict[str, Path]) -> None:
    pytest.importorskip("fastjet")
    path = tmp_path / "features.h5"
    _write_lhco(path, 5)
    with pytest.raises(InputError, match=r"features\.h5: the frame has 15 columns.*2100"):
        LHCOParticlesReader(path)
    with pytest.raises(InputError, match="not a pandas HDF5 file"):
        LHCOParticlesReader(toy_files["data"])
    unlabelled = tmp_path / "blackbox.h5"
    _write_particles(unlabelled, 3, labels=False)
    reader = LHCOParticlesReader(unlabelled, n_constituents=0)
    assert reader.read_labels() is None
    assert "jet_const" not in reader.available_columns()


# --- CASE ------------------------------------------------------------------------------


def _write_case(path: Path, n: int, seed: int = 3) -> dict[str, np.ndarray]:
    """A CASE H5 maker file: j1 is the heavier jet, so some rows have j2 harder."""
    rng = np.random.default_rng(seed)
    pt = rng.uniform(300, 2000, (n, 2))
    eta = rng.uniform(-2, 2, (n, 2))
    phi = rng.uniform(-np.pi, np.pi, (n, 2))
    msd = np.sort(rng.uniform(10, 500, (n, 2)), axis=1)[:, ::-1]  # j1 heavier
    kin = np.zeros((n, 14), np.float32)
    kin[:, 0] = rng.uniform(1500, 5000, n)
    kin[:, 1] = np.abs(eta[:, 0] - eta[:, 1])
    for j in (0, 1):
        kin[:, 2 + 4 * j : 6 + 4 * j] = np.stack([pt[:, j], eta[:, j], phi[:, j], msd[:, j]], 1)
    extra = [np.zeros((n, 7), np.float32) for _ in range(2)]
    cands = [np.zeros((n, 100, 4), np.float16) for _ in range(2)]
    for j in (0, 1):
        extra[j][:, :4] = rng.uniform(0, 1, (n, 4))
        extra[j][:, 4:6] = rng.uniform(0, 1, (n, 2))  # lsf3, btag
        extra[j][:, 6] = 3 + j
        for k, cpt in enumerate((50.0, 200.0, 100.0, 25.0)[: 3 + j]):  # not pT-ordered
            cphi, ceta = phi[:, j] + 0.01 * k, eta[:, j]
            cands[j][:, k] = np.stack(
                [cpt * np.cos(cphi), cpt * np.sin(cphi), cpt * np.sinh(ceta), cpt * np.cosh(ceta)],
                1,
            )
    with h5py.File(path, "w") as f:
        f["jet_kinematics"] = kin
        f["jet1_extraInfo"], f["jet2_extraInfo"] = extra
        f["jet1_PFCands"], f["jet2_PFCands"] = cands
        f["truth_label"] = (np.arange(n) % 3 - 1).reshape(n, 1).astype(np.int8)
        f["event_info"] = np.zeros((n, 8), np.float32)
        f["preselection_eff"] = np.array([0.5])
    return {"kin": kin, "extra0": extra[0], "extra1": extra[1]}


def test_case_layout(tmp_path: Path) -> None:
    path = tmp_path / "case.h5"
    raw = _write_case(path, 200)
    reader = open_events(path, format="case-h5")
    assert isinstance(reader, CASEReader)
    assert reader.available_columns() == [
        "mjj", "jet_pt", "jet_eta", "jet_phi", "jet_msd",
        "jet_tau1", "jet_tau2", "jet_tau3", "jet_tau4", "jet_nconst", "jet_const",
    ]  # fmt: skip
    ev = reader.read()
    kin = raw["kin"].astype(np.float64)
    swap = kin[:, 6] > kin[:, 2]
    assert swap.any() and (~swap).any()
    np.testing.assert_array_equal(ev["mjj"], kin[:, 0])
    np.testing.assert_array_equal(ev["jet_pt"][:, 0], np.maximum(kin[:, 2], kin[:, 6]))
    np.testing.assert_array_equal(ev["jet_msd"][:, 0], np.where(swap, kin[:, 9], kin[:, 5]))
    np.testing.assert_allclose(
        ev["jet_tau4"][:, 1], np.where(swap, raw["extra0"][:, 3], raw["extra1"][:, 3])
    )
    np.testing.assert_array_equal(ev["jet_nconst"][:, 0], np.where(swap, 4, 3))
    const = ev["jet_const"]
    assert [len(x) for x in const[0].pt.tolist()] == list(ev["jet_nconst"][0])
    np.testing.assert_allclose(const[0][0].pt.to_numpy()[:3], [200.0, 100.0, 50.0], rtol=2e-3)
    np.testing.assert_allclose(const.eta[:, :, 0].to_numpy(), ev["jet_eta"], atol=2e-2)
    np.testing.assert_array_equal(reader.read_labels(5, 8), [1, -1, 0])
    _check_chunks(reader, 64, 10, 190)
    with pytest.raises(InputError, match=r"case\.h5: missing column\(s\) 'jet_m'"):
        reader.read(["jet_m"])


def test_case_layout_errors(tmp_path: Path, toy_files: dict[str, Path]) -> None:
    with pytest.raises(InputError, match=r"data\.h5: no dataset 'jet_kinematics'"):
        CASEReader(toy_files["data"])
    path = tmp_path / "case.h5"
    _write_case(path, 3000)
    with pytest.raises(InputError, match=r"cut_case\.h5"):
        CASEReader(_truncate(path, 0.6)).read()
    only_kin = tmp_path / "kin.h5"
    with h5py.File(only_kin, "w") as f:
        f["jet_kinematics"] = np.zeros((4, 14), np.float32)
    reader = CASEReader(only_kin)
    assert reader.available_columns() == ["mjj", "jet_pt", "jet_eta", "jet_phi", "jet_msd"]
    assert reader.read_labels() is None


# --- NanoAOD ---------------------------------------------------------------------------


def _write_nano(path: Path, n: int, drop: tuple[str, ...] = (), seed: int = 7) -> Any:
    ak = pytest.importorskip("awkward")
    uproot = pytest.importorskip("uproot")
    rng = np.random.default_rng(seed)
    njet = rng.integers(0, 5, n)
    njet[:3] = [3, 1, 0]
    total = int(njet.sum())

    def jagged(values: np.ndarray, counts: np.ndarray) -> Any:
        return ak.unflatten(values, counts)

    fields = {
        "pt": rng.uniform(100, 2000, total),
        "eta": rng.uniform(-2.4, 2.4, total),
        "phi": rng.uniform(-np.pi, np.pi, total),
        "mass": rng.uniform(10, 400, total),
        "msoftdrop": rng.uniform(0, 300, total),
        "tau1": rng.uniform(0, 1, total),
        "tau2": rng.uniform(0, 1, total),
        "tau3": rng.uniform(0, 1, total),
        "tau4": rng.uniform(0, 1, total),
        "nConstituents": rng.integers(2, 4, total).astype(np.uint8),
    }
    fat = {k: jagged(v, njet) for k, v in fields.items() if f"FatJet_{k}" not in drop}
    # two PF candidates per jet (nConstituents is not used for them), shuffled order
    ncand = 2 * njet
    cand_pt = rng.uniform(1, 100, int(ncand.sum()))
    jet_idx = np.concatenate([np.repeat(np.arange(k), 2) for k in njet]).astype(np.int64)
    with uproot.recreate(path) as f:
        f.mktree(
            "Events",
            {
                "FatJet": ak.zip(fat),
                "PFCands": ak.zip(
                    {
                        "pt": jagged(cand_pt, ncand),
                        "eta": jagged(rng.uniform(-2, 2, len(cand_pt)), ncand),
                        "phi": jagged(rng.uniform(-3, 3, len(cand_pt)), ncand),
                    }
                ),
                "FatJetPFCands": ak.zip(
                    {
                        "jetIdx": jagged(jet_idx, ncand),
                        "pFCandsIdx": jagged(
                            np.concatenate([np.arange(k) for k in ncand]).astype(np.int64), ncand
                        ),
                    }
                ),
            },
        )
    return ak.zip(fat), njet


def test_nanoaod_leading_fat_jets(tmp_path: Path) -> None:
    path = tmp_path / "nano.root"
    fat, njet = _write_nano(path, 60)
    reader = open_events(path)  # chosen by the .root suffix
    assert isinstance(reader, NanoAODReader)
    assert reader.n_events() == 60
    ev = reader.read()
    assert "jet_const" in ev.columns and "jet_tau4" in ev.columns
    for i in range(60):
        pt = np.asarray(fat.pt[i])
        lead = np.argsort(-pt, kind="stable")[:2]
        expected = np.zeros(2)
        expected[: len(lead)] = pt[lead]
        np.testing.assert_array_equal(ev["jet_pt"][i], expected)
        if len(lead):
            assert ev["jet_msd"][i][0] == fat.msoftdrop[i][lead[0]]
            assert ev["jet_nconst"][i][0] == fat.nConstituents[i][lead[0]]
        assert (ev["mjj"][i] > 0) == (njet[i] >= 2)
        assert [len(c) for c in ev["jet_const"][i].pt.tolist()] == [
            2 if k < njet[i] else 0 for k in range(2)
        ]
    from casehunt.derived import dijet_mass

    np.testing.assert_allclose(
        ev["mjj"][0], dijet_mass(*(ev[c][:1] for c in ("jet_pt", "jet_eta", "jet_phi", "jet_m")))[0]
    )
    _check_chunks(reader, 16, 5, 55)


def test_nanoaod_missing_branches(tmp_path: Path) -> None:
    path = tmp_path / "nosd.root"
    _write_nano(path, 10, drop=("FatJet_msoftdrop",))
    reader = NanoAODReader(path)
    assert "jet_msd" not in reader.available_columns()
    with pytest.raises(
        InputError, match=r"nosd\.root: column 'jet_msd' needs branch\(es\) FatJet_msoftdrop"
    ):
        reader.read(["jet_msd"])
    nomass = tmp_path / "nomass.root"
    _write_nano(nomass, 10, drop=("FatJet_mass",))
    with pytest.raises(InputError, match=r"nomass\.root: missing branch\(es\) FatJet_mass"):
        NanoAODReader(nomass)
    with pytest.raises(InputError, match=r"nosd\.root: no TTree .Runs.; the file has: Events"):
        NanoAODReader(path, tree="Runs")


def test_nanoaod_damaged_files(tmp_path: Path) -> None:
    path = tmp_path / "nano.root"
    _write_nano(path, 2000)
    for fraction in (0.5, 0.02):
        with pytest.raises(InputError, match=r"cut_nano\.root"):
            NanoAODReader(_truncate(path, fraction)).read()
    text = tmp_path / "text.root"
    text.write_text("not ROOT\n")
    with pytest.raises(InputError, match=r"text\.root: not a readable ROOT file"):
        NanoAODReader(text)


# --- Registry and the whole preselection ---------------------------------------------


def test_formats_are_listed_as_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json"]) == 0
    rows = {(r["kind"], r["name"]): r for r in json.loads(capsys.readouterr().out)}
    for name in ("lhco-features", "lhco-particles", "case-h5", "nanoaod"):
        assert rows[("reader", name)]["plugin"] == "builtin-formats"
        assert rows[("reader", name)]["distribution"] == "casehunt"


def test_lhco_features_through_the_preselection(tmp_path: Path) -> None:
    from casehunt.plugins import make_plugin_manager
    from casehunt.preselection import Preselection, builtin_cuts, resolve_config
    from casehunt.sample import load_preselected

    path = tmp_path / "features.h5"
    df = _write_lhco(path, 3000)
    reader = open_events(path, format="lhco-features")
    cfg = resolve_config({"mjj_min": 1500.0})
    sample = load_preselected(
        reader, Preselection(builtin_cuts(cfg)), make_plugin_manager(), {}, chunk_size=700
    )
    ev = reader.read()
    eta = ev["jet_eta"]
    keep = (
        np.all(ev["jet_pt"] > 300, axis=1)
        & np.all(np.abs(eta) < 2.5, axis=1)
        & (np.abs(eta[:, 0] - eta[:, 1]) < 1.3)
        & (ev["mjj"] > 1500)
    )
    np.testing.assert_array_equal(sample.event_id, np.flatnonzero(keep))
    np.testing.assert_array_equal(sample.labels, df.label.to_numpy()[keep])
    # mass ordering falls back to the plain jet mass (the file has no soft-drop mass)
    np.testing.assert_allclose(sample.events["mj1"], ev["jet_m"][keep].max(axis=1))
