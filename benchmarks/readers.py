#!/usr/bin/env python
"""Memory and speed of the external-format readers (casehunt.formats), chunk by chunk.

For each format this writes a file of N and of 4 N events (synthetic events in the
format's layout), then reads each file through its reader in a fresh subprocess, all
columns, at two chunk sizes, keeping only a reduced result (the number of events whose
leading jet has pT > 1200 GeV), as a preselection does. The child reports its peak
resident memory (``ru_maxrss``) before reading (imports and the opened reader) and after;
the difference is what reading costs. It should grow with the chunk size and stay flat
with the file size. Prints a markdown table.

    .venv/bin/python benchmarks/readers.py                  # all formats, ~3 minutes
    .venv/bin/python benchmarks/readers.py --formats lhco-features,nanoaod --scale 0.5

Needs pandas and PyTables (to write the LHC Olympics files), uproot and fastjet.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peak_memory import lifetime_peak_kb, reset_peak, status_kb

OUTPUT = Path(__file__).resolve().parent / "output" / "readers"

#: format -> (events of the 1x file, the two chunk sizes)
PLAN: dict[str, tuple[int, tuple[int, int]]] = {
    "lhco-features": (100_000, (10_000, 100_000)),
    "case-h5": (50_000, (10_000, 50_000)),
    "nanoaod": (100_000, (10_000, 100_000)),
    "lhco-particles": (4_000, (1_000, 4_000)),
}


def _jets(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Two jets per event: pt, eta, phi, m as (n, 2) arrays."""
    return {
        "pt": rng.uniform(300.0, 2000.0, (n, 2)),
        "eta": rng.uniform(-2.0, 2.0, (n, 2)),
        "phi": rng.uniform(-np.pi, np.pi, (n, 2)),
        "m": rng.uniform(10.0, 500.0, (n, 2)),
    }


def write_lhco_features(path: Path, n: int, rng: np.random.Generator) -> None:
    import pandas as pd

    j = _jets(rng, n)
    cols: dict[str, np.ndarray] = {}
    for k in (0, 1):
        s = f"j{k + 1}"
        cols["px" + s] = j["pt"][:, k] * np.cos(j["phi"][:, k])
        cols["py" + s] = j["pt"][:, k] * np.sin(j["phi"][:, k])
        cols["pz" + s] = j["pt"][:, k] * np.sinh(j["eta"][:, k])
        cols["m" + s] = j["m"][:, k]
        for t in (1, 2, 3):
            cols[f"tau{t}{s}"] = rng.uniform(0, 1, n)
    cols["label"] = (rng.uniform(size=n) < 0.1).astype(np.float64)
    pd.DataFrame(cols).to_hdf(path, key="df", mode="w")


def write_lhco_particles(path: Path, n: int, rng: np.random.Generator) -> None:
    """Two hard clusters of 30 and 20 particles plus 50 soft ones per event."""
    import pandas as pd

    rows = np.zeros((n, 2101), dtype=np.float64)
    for i in range(n):
        parts = []
        for pt, m, phi in ((rng.uniform(1000, 1800), 30, 0.0), (rng.uniform(500, 1200), 20, 3.1)):
            share = rng.dirichlet(np.ones(m)) * pt
            eta = rng.uniform(-1, 1) + rng.normal(0, 0.15, m)
            parts.append(np.stack([share, eta, phi + rng.normal(0, 0.15, m)], 1))
        parts.append(
            np.stack(
                [rng.exponential(2.0, 50), rng.uniform(-2.5, 2.5, 50), rng.uniform(-3, 3, 50)], 1
            )
        )
        flat = np.concatenate(parts)
        flat = flat[np.argsort(-flat[:, 0])].reshape(-1)
        rows[i, : flat.size] = flat
    rows[:, 2100] = rng.uniform(size=n) < 0.1
    pd.DataFrame(rows).to_hdf(path, key="df", mode="w")


def write_case(path: Path, n: int, rng: np.random.Generator) -> None:
    """The CASE H5 maker layout, 40 PF candidates per jet (gzip, as the H5 maker writes)."""
    import h5py

    j = _jets(rng, n)
    kin = np.zeros((n, 14), np.float32)
    kin[:, 0] = rng.uniform(1500, 5000, n)
    for k in (0, 1):
        kin[:, 2 + 4 * k : 6 + 4 * k] = np.stack([j[v][:, k] for v in ("pt", "eta", "phi", "m")], 1)
    with h5py.File(path, "w") as f:
        f["jet_kinematics"] = kin
        f["truth_label"] = (rng.uniform(size=(n, 1)) < 0.1).astype(np.int8)
        for k in (0, 1):
            extra = np.zeros((n, 7), np.float32)
            extra[:, :6] = rng.uniform(0, 1, (n, 6))
            extra[:, 6] = 40
            f[f"jet{k + 1}_extraInfo"] = extra
            ds = f.create_dataset(
                f"jet{k + 1}_PFCands",
                (n, 100, 4),
                np.float16,
                chunks=(1000, 100, 4),
                compression="gzip",
            )
            for lo in range(0, n, 10_000):
                hi = min(lo + 10_000, n)
                c = np.zeros((hi - lo, 100, 4), np.float16)
                pt = rng.exponential(20.0, (hi - lo, 40))
                phi = j["phi"][lo:hi, k : k + 1] + rng.normal(0, 0.2, (hi - lo, 40))
                eta = j["eta"][lo:hi, k : k + 1] + rng.normal(0, 0.2, (hi - lo, 40))
                c[:, :40] = np.stack(
                    [pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], -1
                )
                ds[lo:hi] = c


def write_nanoaod(path: Path, n: int, rng: np.random.Generator) -> None:
    """An Events tree with 1-4 FatJets per event and 8 PF candidates per fat jet."""
    import awkward as ak
    import uproot

    with uproot.recreate(path) as f:
        tree = None
        for lo in range(0, n, 50_000):
            m = min(50_000, n - lo)
            njet = rng.integers(1, 5, m)
            total = int(njet.sum())
            fat = {
                k: ak.unflatten(rng.uniform(a, b, total), njet)
                for k, (a, b) in {
                    "pt": (200, 2000),
                    "eta": (-2.4, 2.4),
                    "phi": (-3.1, 3.1),
                    "mass": (10, 400),
                    "msoftdrop": (0, 300),
                    "tau1": (0, 1),
                    "tau2": (0, 1),
                    "tau3": (0, 1),
                    "tau4": (0, 1),
                }.items()
            }
            fat["nConstituents"] = ak.unflatten(rng.integers(10, 100, total).astype(np.uint8), njet)
            ncand = 8 * njet
            nc = int(ncand.sum())
            data = {
                "FatJet": ak.zip(fat),
                "PFCands": ak.zip(
                    {
                        v: ak.unflatten(rng.uniform(a, b, nc).astype(np.float32), ncand)
                        for v, (a, b) in {"pt": (1, 100), "eta": (-3, 3), "phi": (-3, 3)}.items()
                    }
                ),
                "FatJetPFCands": ak.zip(
                    {
                        "jetIdx": ak.unflatten(
                            np.concatenate([np.repeat(np.arange(k), 8) for k in njet]), ncand
                        ),
                        "pFCandsIdx": ak.unflatten(
                            np.concatenate([np.arange(k) for k in ncand]), ncand
                        ),
                    }
                ),
            }
            if tree is None:
                tree = f.mktree("Events", data)
            else:
                tree.extend(data)


WRITERS = {
    "lhco-features": (write_lhco_features, ".h5"),
    "lhco-particles": (write_lhco_particles, ".h5"),
    "case-h5": (write_case, ".h5"),
    "nanoaod": (write_nanoaod, ".root"),
}


def _peak_rss_kb() -> int:
    """Peak resident memory of this process (Linux VmHWM; ru_maxrss elsewhere)."""
    peak = status_kb("VmHWM")
    return lifetime_peak_kb() if peak is None else peak


def child(fmt: str, path: str, chunk_size: int) -> None:
    """Read every chunk of `path`, keep a count; print the measurements as JSON."""
    # a forked child starts with its parent's peak; reset it (Linux) so it is this read's
    reset_peak()
    from casehunt.readers import open_events

    reader = open_events(path, format=fmt)
    before = _peak_rss_kb()
    t0 = time.perf_counter()
    n = passed = 0
    for chunk in reader.iter_chunks(None, chunk_size=chunk_size):
        n += chunk.n_events
        passed += int((chunk["jet_pt"][:, 0] > 1200.0).sum())
    seconds = time.perf_counter() - t0
    result = {
        "events": n,
        "passed": passed,
        "seconds": seconds,
        "rss_before_kb": before,
        "rss_peak_kb": _peak_rss_kb(),
    }
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--formats", default=",".join(PLAN), help="comma-separated formats")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the event counts")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument(
        "--child", nargs=3, metavar=("FORMAT", "PATH", "CHUNK"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return 0

    args.output.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for fmt in args.formats.split(","):
        n1, chunks = PLAN[fmt]
        n1 = max(int(n1 * args.scale), 1)
        write, suffix = WRITERS[fmt]
        for factor in (1, 4):
            path = args.output / f"{fmt}_{factor}x{suffix}"
            t0 = time.perf_counter()
            write(path, n1 * factor, np.random.default_rng(factor))
            print(
                f"wrote {path.name}: {n1 * factor} events, {path.stat().st_size / 2**20:.0f} MiB, {time.perf_counter() - t0:.1f} s",
                file=sys.stderr,
            )
            for chunk in chunks:
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        fmt,
                        str(path),
                        str(int(chunk * args.scale) or 1),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                r = json.loads(out.stdout.strip().splitlines()[-1])
                r.update(
                    format=fmt,
                    file=f"{factor}x",
                    size_mib=path.stat().st_size / 2**20,
                    chunk=int(chunk * args.scale) or 1,
                )
                rows.append(r)
                print(f"  chunk {r['chunk']}: {r['seconds']:.1f} s", file=sys.stderr)
            path.unlink()
    print(
        "| format | file | events | MiB | chunk | events/s | peak RSS (MiB) | read RSS increase (MiB) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['format']} | {r['file']} | {r['events']:,} | {r['size_mib']:.0f} | {r['chunk']:,} | "
            f"{r['events'] / r['seconds']:,.0f} | {r['rss_peak_kb'] / 1024:.0f} | "
            f"{(r['rss_peak_kb'] - r['rss_before_kb']) / 1024:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
