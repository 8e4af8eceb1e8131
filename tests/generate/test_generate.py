"""End-to-end generation with Pythia 8 + FastJet on a few dozen events (about 20 s)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")
h5py = pytest.importorskip("h5py")

from casehunt.generate import generate  # noqa: E402
from casehunt.generate.engine import make_pythia  # noqa: E402
from casehunt.generate.errors import GenerationError, OutputMismatchError  # noqa: E402
from casehunt.generate.processes import make_process, pythia_settings  # noqa: E402

pytestmark = pytest.mark.generate

#: The layout of shared/data/README.md with the reference files' dtypes.
LAYOUT = {
    "mjj": ((), np.float32),
    "jet_pt": ((2,), np.float32),
    "jet_eta": ((2,), np.float32),
    "jet_phi": ((2,), np.float32),
    "jet_m": ((2,), np.float32),
    "jet_msd": ((2,), np.float32),
    "jet_tau1": ((2,), np.float32),
    "jet_tau2": ((2,), np.float32),
    "jet_tau3": ((2,), np.float32),
    "jet_tau4": ((2,), np.float32),
    "jet_nconst": ((2,), np.int32),
    "pthat": ((), np.float32),
    "weight": ((), np.float64),
}
N_CONST = 16
SEED = 7


def _read(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as h5:
        return {k: h5[k][:] for k in h5 if isinstance(h5[k], h5py.Dataset)}


def _assert_same_events(a: Path, b: Path) -> None:
    da, db = _read(a), _read(b)
    assert sorted(da) == sorted(db)
    for k in da:
        np.testing.assert_array_equal(da[k], db[k], err_msg=k)
    with h5py.File(a, "r") as ha, h5py.File(b, "r") as hb:
        for key in ("n_accepted", "n_generated", "sigma_gen_mb"):
            assert ha.attrs[key] == hb.attrs[key], key
        np.testing.assert_array_equal(ha.attrs["seeds"], hb.attrs["seeds"])


@pytest.fixture(scope="module")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("generate")


@pytest.fixture(scope="module")
def qcd_file(outdir: Path) -> Path:
    """40 QCD events in two chunks of 20, with 16 constituents per jet, made in one go."""
    return generate(
        "qcd",
        40,
        outdir / "qcd.h5",
        seed=SEED,
        chunk_size=20,
        n_constituents=N_CONST,
        progress=False,
    )


@pytest.fixture(scope="module")
def signal_file(outdir: Path) -> Path:
    return generate("wprime", 25, outdir / "sig.h5", seed=SEED, chunk_size=25, progress=False)


def test_layout_and_dtypes(qcd_file: Path) -> None:
    with h5py.File(qcd_file, "r") as h5:
        for name, (tail, dtype) in LAYOUT.items():
            ds = h5[name]
            assert ds.shape == (40, *tail), name
            assert ds.dtype == dtype, name
            assert ds.maxshape[0] is None, name  # resizable along the event axis
            assert ds.compression == "gzip", name
        assert h5["jet_const"].shape == (40, 2, N_CONST, 3)
        assert h5["jet_const"].dtype == np.float32
        attrs = h5.attrs
        assert attrs["n_accepted"] == 40
        assert attrs["n_generated"] >= 40
        assert attrs["sigma_gen_mb"] > 0
        assert attrs["process"] == "qcd"
        assert "Random:seed = 7" in attrs["pythia_settings"]
        assert "PhaseSpace:pTHatMin = 1000.0" in attrs["pythia_settings"]
        assert "pythia8mc" in attrs["versions"]
        assert "fastjet" in attrs["versions"]
        np.testing.assert_array_equal(attrs["seeds"], [SEED, SEED + 1])
        assert attrs["seed"] == SEED
        assert bool(attrs["complete"])


def test_qcd_physics_sanity(qcd_file: Path) -> None:
    d = _read(qcd_file)
    pt, m, msd = d["jet_pt"], d["jet_m"], d["jet_msd"]
    assert np.all(pt[:, 0] > 1200.0)
    assert np.all(pt[:, 0] >= pt[:, 1])
    assert np.all(np.abs(d["jet_phi"]) <= np.pi)
    assert np.all(msd <= m + 1e-3)
    assert np.all(msd >= -1e-3)
    t1, t2 = d["jet_tau1"], d["jet_tau2"]
    ratio = t2 / t1
    assert np.all((ratio > 0) & (ratio <= 1.0))
    assert np.all(d["jet_tau3"] <= t1)
    assert np.all(d["jet_tau4"] <= t1)
    assert np.all(d["jet_nconst"] > 2)
    assert np.all(d["mjj"] > 1000.0)  # two TeV-scale jets
    assert np.all(d["pthat"] >= 1000.0)
    assert np.all(d["weight"] == 1.0)
    # mjj from the jets' four-vectors (massive, so above the massless estimate)
    eta, phi = d["jet_eta"].astype(float), d["jet_phi"].astype(float)
    m2_massless = (
        2 * pt[:, 0] * pt[:, 1] * (np.cosh(eta[:, 0] - eta[:, 1]) - np.cos(phi[:, 0] - phi[:, 1]))
    )
    assert np.all(d["mjj"] >= 0.99 * np.sqrt(m2_massless))


def test_constituents(qcd_file: Path) -> None:
    d = _read(qcd_file)
    c = d["jet_const"]
    cpt = c[..., 0]
    # pT-ordered, zero-padded after the last constituent
    assert np.all(np.diff(cpt, axis=-1) <= 0)
    n_filled = (cpt > 0).sum(axis=-1)
    np.testing.assert_array_equal(n_filled, np.minimum(d["jet_nconst"], N_CONST))
    # jet order matches the per-jet columns: the hardest constituents sit near the jet axis
    dphi = (c[..., 2] - d["jet_phi"][..., None] + np.pi) % (2 * np.pi) - np.pi
    dr = np.hypot(c[..., 1] - d["jet_eta"][..., None], dphi)
    assert np.all(dr[cpt > 0] < 1.5)
    assert np.all(cpt.sum(axis=-1) <= d["jet_pt"] * 1.01 + 1.0)


def test_signal_sanity(signal_file: Path) -> None:
    d = _read(signal_file)
    assert len(d["mjj"]) == 25
    assert np.all(d["pthat"] == 0.0)  # 2 -> 1 process: no pTHat
    assert np.mean((d["mjj"] > 3000) & (d["mjj"] < 4000)) > 0.7
    heavy = d["jet_msd"].max(axis=1)
    assert 400 < np.median(heavy) < 600  # the X jet
    with h5py.File(signal_file, "r") as h5:
        assert h5.attrs["process"] == "signal"
        assert "34:oneChannel = 1 1.0 100 37 36" in h5.attrs["pythia_settings"]


def test_three_prong_decay_is_three_quarks() -> None:
    """X -> q q q: Pythia's resonance decay makes three quarks joined by a junction."""
    settings = pythia_settings(make_process("wprime", {"x_prongs": 3}), 11)
    pythia = make_pythia(settings)
    batch = pythia.nextBatch(3)
    for prt in batch.prt:
        ids = np.asarray(prt.id)
        status = np.asarray(prt.status)
        d1, d2 = np.asarray(prt.daughter1), np.asarray(prt.daughter2)
        # the last copy of X (after its own QED/recoil copies) is the one that decays
        decaying = [
            i
            for i in np.flatnonzero((np.abs(ids) == 37) & (status < 0))
            if 37 not in np.abs(ids[d1[i] : d2[i] + 1])
        ]
        assert len(decaying) == 1
        daughters = np.abs(ids[d1[decaying[0]] : d2[decaying[0]] + 1])
        assert len(daughters) == 3
        assert set(daughters) <= {1, 2, 3, 4}
        assert np.all(status[d1[decaying[0]] : d2[decaying[0]] + 1] == -23)


def test_resume_equals_one_go(qcd_file: Path, outdir: Path) -> None:
    """Stop after one chunk, then continue: identical to a run made in one go."""
    path = outdir / "resumed.h5"
    generate("qcd", 20, path, seed=SEED, chunk_size=20, n_constituents=N_CONST, progress=False)
    with h5py.File(path, "r") as h5:
        assert h5.attrs["n_accepted"] == 20
    generate("qcd", 40, path, seed=SEED, chunk_size=20, n_constituents=N_CONST, progress=False)
    _assert_same_events(path, qcd_file)


def test_resume_after_short_last_chunk_and_torn_write(qcd_file: Path, outdir: Path) -> None:
    """A short tail chunk is regenerated whole; rows past the commit marker are dropped."""
    path = outdir / "short.h5"
    generate("qcd", 30, path, seed=SEED, chunk_size=20, n_constituents=N_CONST, progress=False)
    with h5py.File(path, "a") as h5:  # a write killed half-way: rows beyond n_accepted
        for name in (*LAYOUT, "jet_const"):
            h5[name].resize(37, axis=0)
            h5[name][30:] = 99
    generate("qcd", 40, path, seed=SEED, chunk_size=20, n_constituents=N_CONST, progress=False)
    _assert_same_events(path, qcd_file)


def test_parallel_equals_serial(qcd_file: Path, outdir: Path) -> None:
    path = outdir / "parallel.h5"
    generate(
        "qcd", 40, path, seed=SEED, chunk_size=20, n_constituents=N_CONST, jobs=2, progress=False
    )
    _assert_same_events(path, qcd_file)


def test_settings_mismatch_refused(qcd_file: Path, outdir: Path) -> None:
    path = outdir / "mismatch.h5"
    shutil.copy(qcd_file, path)
    kwargs = {"seed": SEED, "chunk_size": 20, "n_constituents": N_CONST, "progress": False}
    with pytest.raises(OutputMismatchError, match=r"mismatch\.h5.*pthat_min"):
        generate("qcd", 60, path, process_options={"pthat_min": 900.0}, **kwargs)
    with pytest.raises(OutputMismatchError, match="extra_settings"):
        generate("qcd", 60, path, pythia_settings=["Tune:pp = 14"], **kwargs)
    with pytest.raises(OutputMismatchError, match="seed"):
        generate("qcd", 60, path, **{**kwargs, "seed": SEED + 1})
    with pytest.raises(OutputMismatchError, match="more than the 10 requested"):
        generate("qcd", 10, path, **kwargs)
    _assert_same_events(path, qcd_file)  # untouched


def test_unknown_pythia_setting(outdir: Path) -> None:
    path = outdir / "typo.h5"
    with pytest.raises(GenerationError, match="Tune:ppp"):
        generate("qcd", 5, path, pythia_settings=["Tune:ppp = 14"], progress=False)
    assert not path.exists()
