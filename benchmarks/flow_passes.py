#!/usr/bin/env python
"""Time and memory of CATHODE's flow against the number of events per no-gradient pass.

CATHODE samples its conditional spline flow through the flow's inverse, which holds the
spline parameters of every event of a pass at once, and evaluates the validation loss in
passes of the same size (``casehunt_cathode.flow.CHUNK``). The pass size trades memory
for per-call overhead. Each setting runs in its own process, so each peak is its own:
the plugin's default flow (``nsf``, 4 transforms, 8 bins, 64 x 64) trains one epoch on
`--train` standard-normal events (the validation loss in passes), then samples
`--samples` events, as a task of the benchmark suite does. The process's peak resident
memory is reset (Linux ``clear_refs``) before each phase and read after it.

    .venv/bin/python benchmarks/flow_passes.py --features 4,14 --passes 2048,8192
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peak_memory import reset_peak, status_kb


def _kb(field: str) -> int:
    value = status_kb(field)
    if value is None:
        raise RuntimeError(f"no {field} in /proc/self/status (this benchmark needs Linux)")
    return value


def child(n_features: int, pass_size: int, n_train: int, n_samples: int, seed: int) -> dict:
    """One setting: train one epoch, sample; the time and peak memory of each phase."""
    import torch

    from casehunt_cathode import flow as flow_module
    from casehunt_cathode.flow import ConditionalFlow, FlowConfig

    torch.set_num_threads(1)  # the suite's tasks run one per core
    flow_module.CHUNK = pass_size
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_train, n_features))
    c = rng.uniform(-1, 1, n_train)
    flow = ConditionalFlow(
        FlowConfig(kind="nsf", epochs=1, batch_size=1024, learning_rate=2e-3), seed=seed
    )
    out: dict = {"features": n_features, "pass": pass_size, "rss_start_kb": _kb("VmRSS")}
    reset_peak()
    t0 = time.perf_counter()
    flow.fit(z, c)
    out.update(fit_s=time.perf_counter() - t0, fit_peak_kb=_kb("VmHWM"))
    reset_peak()
    t0 = time.perf_counter()
    flow.sample(rng.uniform(-1, 1, n_samples), seed=seed)
    out.update(
        sample_s=time.perf_counter() - t0,
        sample_peak_kb=_kb("VmHWM"),
        rss_after_kb=_kb("VmRSS"),
    )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--features", default="4,14", help="comma-separated feature counts")
    p.add_argument("--passes", default="1024,2048,4096,8192", help="events per pass")
    p.add_argument("--train", type=int, default=177_000, help="training events (sidebands)")
    p.add_argument("--samples", type=int, default=80_000, help="events sampled")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", type=Path, help="write the rows as JSON here")
    p.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child, args.train, args.samples, args.seed)))
        return 0

    rows = []
    for n_features in (int(f) for f in args.features.split(",")):
        for pass_size in (int(n) for n in args.passes.split(",")):
            cmd = [sys.executable, __file__, "--child", str(n_features), str(pass_size)]
            cmd += ["--train", str(args.train), "--samples", str(args.samples)]
            cmd += ["--seed", str(args.seed)]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"features {n_features}, pass {pass_size}: done", file=sys.stderr)
    if args.output:
        args.output.write_text(json.dumps(rows, indent=1) + "\n")
    mib = lambda kb: f"{kb / 1024:.0f}"  # noqa: E731
    print(
        "| features | events per pass | fit (s) | fit peak (MiB) | sample (s) "
        "| sample peak (MiB) | resident after (MiB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['features']} | {r['pass']} | {r['fit_s']:.1f} | {mib(r['fit_peak_kb'])} "
            f"| {r['sample_s']:.1f} | {mib(r['sample_peak_kb'])} | {mib(r['rss_after_kb'])} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
