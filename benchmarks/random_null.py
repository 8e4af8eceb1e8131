#!/usr/bin/env python
"""How significant is a selection that knows nothing? The random-selection null.

The suite's full chain quotes the local significance Z at 3.5 TeV of each method's
selection. Whether a Z on background only is a fake excess depends on what Z a
selection with no information gives on the same data. This script draws random
selections of the same efficiency (each event kept with probability eps, at any mjj),
fits each exactly as the suite does (F-test over 3-5 parameter dijet functions from
``--fit-low``, the DSCB of the signal pool at 3500 GeV) and prints the distribution of Z.
With ``--suite-output`` it gives each method task of that point and seed its empirical
p-value among the random selections, (1 + #{Z_random >= Z}) / (1 + N).

The signal template of the development data is particle level: a DSCB core of about
15 GeV at 3.5 TeV. The fit's mass-scale nuisance (1%, 35 GeV, as CMS's jet energy
scale) then moves the template by more than its core, a small look-elsewhere effect
that widens the null distribution of Z beyond a unit Gaussian; ``--nuisances 0,0``
switches the nuisances off to show it.

    .venv/bin/python benchmarks/random_null.py --point 0 --selections 200 \
        --suite-output benchmarks/output/bkg_only
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import protocol as P
import suite


def null_distribution(
    mjj: np.ndarray,
    shape: Any,
    efficiency: float,
    fit_range: tuple[float, float],
    n: int,
    rng: np.random.Generator,
    nuisances: tuple[float, float],
) -> np.ndarray:
    """Local Z at the signal mass of `n` random selections keeping a fraction `efficiency`."""
    from casehunt_stats import fit_with_ftest, local_significance

    mjj = mjj[mjj >= fit_range[0]]
    z = np.empty(n)
    for i in range(n):
        kept = mjj[rng.uniform(size=mjj.size) < efficiency]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a poor fit of a small sample is an outcome
            ft, _ = fit_with_ftest(kept, fit_range=fit_range, signal_mass=suite.SIGNAL_MASS)
            sig = local_significance(
                ft.chosen,
                shape,
                mass=suite.SIGNAL_MASS,
                mass_scale_unc=nuisances[0],
                resolution_unc=nuisances[1],
            )
        z[i] = sig.z
    return z


def method_z(output: Path, point: float, seed: int, key: str) -> dict[str, float]:
    """Full-chain Z of every method task of a suite output at this point and seed."""
    found = {}
    for path in sorted((output / "tasks").glob(f"*__p{point:g}__s{seed}.json")):
        record = json.loads(path.read_text())
        z = (record.get("full_chain") or {}).get(key, {}).get("z")
        if z is not None:
            found[f"{record['variant']}/{record['kind']}"] = float(z)
    return found


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=P.DEFAULT_DATA_DIR)
    ap.add_argument("--signal-file", type=Path, default=None)
    ap.add_argument("--point", type=float, default=0.0, help="S/sqrt(B) of the injection")
    ap.add_argument("--seed", type=int, default=0, help="injection seed (as the suite's)")
    ap.add_argument("--efficiencies", type=suite.float_list, default=list(suite.EFFICIENCIES))
    ap.add_argument("--fit-low", type=float, default=3000.0, help="lower fit edge [GeV]")
    ap.add_argument("--selections", type=int, default=200, help="random selections per efficiency")
    ap.add_argument(
        "--nuisances",
        type=suite.float_list,
        default=[0.01, 0.035],
        help="mass-scale and resolution uncertainties of the signal shape (the fit's default)",
    )
    ap.add_argument("--rng-seed", type=int, default=1)
    ap.add_argument("--suite-output", type=Path, help="a suite.py output to compare with")
    args = ap.parse_args(argv)
    if len(args.nuisances) != 2:
        ap.error("--nuisances takes two numbers: mass scale, resolution")

    from casehunt_stats import SignalShape
    from casehunt_stats.dijet import default_fit_range

    splits = P.load_splits(args.data_dir, args.signal_file)
    shape = SignalShape.fit(np.asarray(splits.signal_pool["mjj"], dtype=float))
    high = default_fit_range(np.asarray(splits.data_background["mjj"]), 4.0)[1]
    events, _, _ = suite.injected(splits, args.point, args.seed)
    mjj = np.asarray(events["mjj"], dtype=float)
    rng = np.random.default_rng(args.rng_seed)
    print(
        f"S/sqrt(B) = {args.point:g}, seed {args.seed}, fit from {args.fit_low:g} GeV, "
        f"{args.selections} random selections per efficiency, nuisances "
        f"{args.nuisances[0]:g} (scale), {args.nuisances[1]:g} (resolution); signal core "
        f"sigma {shape.sigma:.1f} GeV"
    )
    for eff in args.efficiencies:
        z = null_distribution(
            mjj, shape, eff, (args.fit_low, high), args.selections, rng, tuple(args.nuisances)
        )
        q = np.percentile(z, [2.5, 16, 50, 84, 97.5])
        print(
            f"eff {eff:g}: Z mean {z.mean():+.2f}, std {z.std(ddof=1):.2f}, "
            f"2.5/16/50/84/97.5% {' / '.join(f'{v:+.2f}' for v in q)}"
        )
        if args.suite_output:
            key = f"{eff:g}@{args.fit_low:g}"
            for name, zm in method_z(args.suite_output, args.point, args.seed, key).items():
                p = (1 + int((z >= zm).sum())) / (1 + z.size)
                print(f"    {name}: Z {zm:+.2f}, p among random selections {p:.3f}")


if __name__ == "__main__":
    main()
