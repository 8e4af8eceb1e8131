"""Event generation for casehunt: Pythia 8 + FastJet dijet samples in the project's HDF5 layout.

An optional extra (``pip install casehunt[generate]``: pythia8mc, fastjet). It makes
QCD dijet and W' -> X Y signal samples at particle level, with anti-kT R = 1.0 jets and
their substructure (soft-drop mass, N-subjettiness), in chunks that are written as they
complete, resumable, and optionally in parallel worker processes.

Python::

    from casehunt.generate import generate
    generate("qcd", 50_000, Path("qcd.h5"), seed=1, jobs=2)
    generate("wprime", 5_000, Path("sig.h5"), process_options={"mass": 3500, "mx": 500, "my": 100})

Command line (through ``casehunt generate``)::

    casehunt generate qcd --events 50000 --output qcd.h5 --seed 1 --jobs 2
    casehunt generate wprime --mass 3500 --mx 500 --my 100 --x-prongs 2 \\
        --events 5000 --output sig.h5
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from casehunt.errors import CasehuntError
from casehunt.generate.errors import ConfigError, MissingGeneratorError
from casehunt.generate.processes import (
    MAX_PYTHIA_SEED,
    PROCESSES,
    check_extra_settings,
    make_process,
)
from casehunt.generate.processes import pythia_settings as _full_settings

__all__ = ["add_arguments", "generate", "main"]

INSTALL_HINT = "install casehunt[generate] (pip install 'casehunt[generate]')"


def _require_dependencies() -> None:
    """Fail early with one clear message when the optional extra is missing."""
    missing = []
    for module in ("pythia8mc", "fastjet"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise MissingGeneratorError(
            f"event generation needs {' and '.join(missing)}, which are not installed: "
            f"{INSTALL_HINT}"
        )


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def _versions() -> dict[str, str]:
    return {d: _version(d) for d in ("pythia8mc", "fastjet", "awkward", "numpy", "h5py")}


def generate(
    process: str,
    n_events: int,
    output: Path,
    *,
    seed: int = 1,
    chunk_size: int = 1000,
    jobs: int = 1,
    process_options: dict | None = None,
    pythia_settings: Sequence[str] = (),
    n_constituents: int = 0,
    min_leading_pt: float = 1200.0,
    progress: bool = True,
) -> Path:
    """Generate ``n_events`` accepted events of ``process`` into ``output`` (HDF5).

    ``process`` is "qcd" (options: pthat_min) or "wprime" (options: mass, mx, my,
    x_prongs, width). ``pythia_settings`` are extra "Key = value" strings appended after
    the process settings (e.g. another tune for a "simulation" sample). Chunk ``i`` uses
    Pythia seed ``seed + i``; if ``output`` exists with the same settings, generation
    continues from the events it holds. Returns the output path.

    With ``jobs`` > 1 the chunks are made by spawned worker processes, so a script that
    calls this must guard its entry point with ``if __name__ == "__main__":``.
    """
    _require_dependencies()
    from tqdm.auto import tqdm

    from casehunt.generate.engine import BATCH_SIZE, ChunkTask, check_settings, run_chunks
    from casehunt.generate.jets import JetConfig
    from casehunt.generate.writer import GeneratorOutput

    output = Path(output)
    for name, value, low in (
        ("n_events", n_events, 1),
        ("chunk_size", chunk_size, 1),
        ("jobs", jobs, 1),
        ("n_constituents", n_constituents, 0),
    ):
        if int(value) != value or value < low:
            raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    n_events, chunk_size, jobs, n_constituents = (
        int(n_events),
        int(chunk_size),
        int(jobs),
        int(n_constituents),
    )
    proc = make_process(process, process_options)
    extra = check_extra_settings(pythia_settings)
    n_chunks = -(-n_events // chunk_size)
    if int(seed) != seed or seed < 1 or seed + n_chunks - 1 > MAX_PYTHIA_SEED:
        raise ConfigError(
            f"seed must be >= 1 and seed + number of chunks - 1 <= {MAX_PYTHIA_SEED}; "
            f"got seed {seed} with {n_chunks} chunks"
        )
    jet = JetConfig(min_leading_pt=float(min_leading_pt), n_constituents=n_constituents)
    versions = _versions()
    config: dict[str, Any] = {
        "format": 1,
        "process": proc.name,
        "process_options": dict(proc.options),
        "process_settings": list(proc.settings),
        "extra_settings": list(extra),
        "seed": int(seed),
        "chunk_size": chunk_size,
        "batch_size": BATCH_SIZE,
        "n_constituents": n_constituents,
        "jet": asdict(jet),
        "versions": {"pythia8mc": versions["pythia8mc"], "fastjet": versions["fastjet"]},
    }
    static_attrs: dict[str, Any] = {
        "process": proc.label,
        "process_name": proc.name,
        "process_options": json.dumps(dict(proc.options), sort_keys=True),
        "pythia_settings": "\n".join(pythia_settings_for(proc, seed, extra)),
        "seed": int(seed),
        "seed_scheme": "chunk i uses Random:seed = seed + i (pythia_settings shows chunk 0)",
        "chunk_size": chunk_size,
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "generator": f"casehunt.generate (casehunt {_version('casehunt')})",
        **jet.describe(),
    }

    check_settings(pythia_settings_for(proc, seed, extra))
    out = GeneratorOutput.open(output, config, static_attrs, n_events)
    try:
        first = out.n_chunks
        tasks = []
        for i in range(first, n_chunks):
            target = min(chunk_size, n_events - i * chunk_size)
            tasks.append(
                ChunkTask(
                    index=i,
                    seed=seed + i,
                    n_target=target,
                    settings=tuple(pythia_settings_for(proc, seed + i, extra)),
                    jet=jet,
                )
            )
        with tqdm(
            total=n_events,
            initial=out.n_accepted,
            unit="ev",
            desc=f"{proc.name} -> {output.name}",
            disable=not progress,
            dynamic_ncols=True,
        ) as bar:
            for chunk in run_chunks(tasks, jobs):
                out.write_chunk(chunk)
                bar.update(chunk.n_accepted)
        out.set_requested(n_events)
    finally:
        out.close()
    return output


def pythia_settings_for(proc: Any, seed: int, extra: Sequence[str]) -> list[str]:
    """Full Pythia settings of the run with this seed (kept public for inspection)."""
    return _full_settings(proc, seed, extra)


# -- command line -------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``casehunt generate``."""
    parser.add_argument("process", choices=sorted(PROCESSES), help="process to generate")
    parser.add_argument(
        "--events", "-n", type=int, required=True, help="accepted events wanted in total"
    )
    parser.add_argument("--output", "-o", type=Path, required=True, help="output HDF5 file")
    parser.add_argument(
        "--seed", type=int, default=1, help="base seed; chunk i uses seed + i (default 1)"
    )
    parser.add_argument("--jobs", "-j", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=1000,
        help="accepted events per chunk, the unit of writing and resuming (default 1000)",
    )
    parser.add_argument(
        "--constituents",
        type=int,
        default=0,
        metavar="M",
        help="also store the M hardest constituents per jet as jet_const (default 0: none)",
    )
    parser.add_argument(
        "--min-leading-pt",
        type=float,
        default=1200.0,
        help="keep events whose leading jet has pT above this [GeV] (default 1200)",
    )
    parser.add_argument(
        "--pythia",
        action="append",
        default=[],
        metavar="'KEY = VALUE'",
        help="extra Pythia setting, repeatable (e.g. --pythia 'Tune:pp = 14')",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    qcd_group = parser.add_argument_group("qcd options")
    qcd_group.add_argument(
        "--pthat-min", type=float, default=None, help="PhaseSpace:pTHatMin [GeV] (default 1000)"
    )
    sig = parser.add_argument_group("wprime options")
    sig.add_argument("--mass", type=float, default=None, help="W' mass [GeV] (default 3500)")
    sig.add_argument("--mx", type=float, default=None, help="X mass [GeV] (default 500)")
    sig.add_argument("--my", type=float, default=None, help="Y mass [GeV] (default 100)")
    sig.add_argument(
        "--x-prongs",
        type=int,
        choices=(2, 3),
        default=None,
        help="X -> q q' (2) or X -> q q q (3) (default 2)",
    )
    sig.add_argument("--width", type=float, default=None, help="W' width [GeV] (default 10)")


def _process_options(args: argparse.Namespace) -> dict[str, Any]:
    """Collect the process options given on the command line; refuse ones of the other process."""
    per_process = {
        "qcd": {"pthat_min": args.pthat_min},
        "wprime": {
            "mass": args.mass,
            "mx": args.mx,
            "my": args.my,
            "x_prongs": args.x_prongs,
            "width": args.width,
        },
    }
    for other, opts in per_process.items():
        if other != args.process:
            given = [k for k, v in opts.items() if v is not None]
            if given:
                flags = ", ".join("--" + k.replace("_", "-") for k in given)
                raise ConfigError(f"{flags} apply to process {other!r}, not {args.process!r}")
    return {k: v for k, v in per_process[args.process].items() if v is not None}


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(args: argparse.Namespace) -> int:
    """Run ``casehunt generate``; returns the exit code (errors are printed, not raised)."""
    t0 = time.perf_counter()
    # SIGTERM (a batch system's stop) takes the same orderly path as Ctrl-C: the pool is
    # stopped and the file keeps its complete chunks.
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        path = generate(
            args.process,
            args.events,
            args.output,
            seed=args.seed,
            chunk_size=args.chunk_size,
            jobs=args.jobs,
            process_options=_process_options(args),
            pythia_settings=args.pythia,
            n_constituents=args.constituents,
            min_leading_pt=args.min_leading_pt,
            progress=not args.no_progress,
        )
    except CasehuntError as exc:
        print(f"casehunt generate: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(
            f"casehunt generate: interrupted; the complete chunks are kept in {args.output}. "
            "Run the same command again to continue.",
            file=sys.stderr,
        )
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    import h5py

    with h5py.File(path, "r") as h5:
        n_acc, n_gen = int(h5.attrs["n_accepted"]), int(h5.attrs["n_generated"])
        sigma = float(h5.attrs["sigma_gen_mb"])
    dt = time.perf_counter() - t0
    print(
        f"{path}: {n_acc} events accepted of {n_gen} generated "
        f"(sigma_gen = {sigma:.4g} mb) in {dt:.0f} s"
    )
    return 0


def _standalone(argv: Sequence[str] | None = None) -> int:
    """``python -m casehunt.generate`` works without the framework's CLI."""
    parser = argparse.ArgumentParser(prog="casehunt generate", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return main(parser.parse_args(argv))
