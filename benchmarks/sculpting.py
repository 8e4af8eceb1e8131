#!/usr/bin/env python
"""Does a method's selection sculpt the background mjj spectrum?

Reads the out-of-fold scores that ``suite.py`` keeps for every method task
(``<output>/tasks/<key>.npz``), selects the data events as the full chain does (threshold
on 200 GeV sidebands of the 3.3-3.7 TeV signal region, at each efficiency), and looks at
the *background* events only (the truth labels are used here for evaluation, never by the
methods):

- the selected fraction per mjj bin over the target efficiency: 1 everywhere for a
  selection that does not depend on mjj; a smooth rise or fall is absorbed by the dijet
  fit, a bump in the signal region is not;
- the background selected in the signal region against two expectations: the target
  efficiency, and the mean of the two sidebands' selected fractions (a straight line
  through them), with the pull (observed - expected) / sqrt(expected).

One line per method, point and efficiency: medians over the seeds. With ``--plot`` a
figure of the selected fraction per bin (median and range over seeds) is written.

    .venv/bin/python benchmarks/sculpting.py benchmarks/output/bkg_only --plot sculpting.png
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import protocol as P
import suite

from casehunt.selection import sideband_threshold

DEFAULT_EDGES = np.arange(2900.0, 4501.0, 200.0)


def profile(
    scores: np.ndarray, mjj: np.ndarray, labels: np.ndarray, efficiency: float, edges: np.ndarray
) -> dict[str, Any]:
    """Selected background fraction per mjj bin and in the signal region (see module doc)."""
    region = P.sr_region(suite.THRESHOLD_SIDEBAND)
    selected = scores > sideband_threshold(scores, mjj, region, efficiency)
    bkg = labels == 0
    s, m = selected[bkg], mjj[bkg]
    ratio = [
        float(s[(m >= a) & (m < b)].mean() / efficiency) if ((m >= a) & (m < b)).any() else None
        for a, b in itertools.pairwise(edges)
    ]
    sr = region.in_signal_region(m)
    f_low = float(s[region.in_low_sideband(m)].mean())
    f_high = float(s[region.in_high_sideband(m)].mean())
    n_sr, k_sr = int(sr.sum()), int(s[sr].sum())
    expected_flat = efficiency * n_sr
    expected_line = 0.5 * (f_low + f_high) * n_sr
    return {
        "ratio": ratio,
        "low_sideband": f_low / efficiency,
        "high_sideband": f_high / efficiency,
        "sr_selected": k_sr,
        "sr_expected_flat": expected_flat,
        "sr_expected_line": expected_line,
        "pull_flat": _pull(k_sr, expected_flat),
        "pull_line": _pull(k_sr, expected_line),
    }


def _pull(observed: int, expected: float) -> float:
    return (observed - expected) / np.sqrt(expected) if expected > 0 else float("nan")


def collect(output: Path, efficiencies: list[float], edges: np.ndarray) -> dict[tuple, list]:
    """Profiles of every method task in a suite output, keyed by (variant, method, point, eff)."""
    tasks = sorted((output / "tasks").glob("*.npz"))
    if not tasks:
        raise SystemExit(f"{output}/tasks: no method scores (*.npz); run suite.py first")
    found: dict[tuple, list] = defaultdict(list)
    for path in tasks:
        record = json.loads(path.with_suffix(".json").read_text())
        if record.get("error"):
            continue
        with np.load(path) as z:
            scores, mjj, labels = z["scores"], z["mjj"], z["labels"]
        for eff in efficiencies:
            key = (record["variant"], record["kind"], float(record["point"]), eff)
            found[key].append(profile(scores, mjj, labels, eff, edges))
    return found


def markdown(found: dict[tuple, list], edges: np.ndarray) -> str:
    bins = [f"{a / 1000:g}-{b / 1000:g}" for a, b in itertools.pairwise(edges)]
    head = (
        "| variant | method | S/sqrt(B) | eff | seeds | "
        + " | ".join(bins)
        + " | SR selected / expected (flat, line) | pull (flat, line) |"
    )
    lines = [head, "|---" * (7 + len(bins)) + "|"]
    for (variant, method, point, eff), rows in sorted(found.items()):
        ratio = np.array([[np.nan if r is None else r for r in p["ratio"]] for p in rows])
        cells = " | ".join(f"{v:.2f}" for v in np.nanmedian(ratio, axis=0))

        def med(k: str, rows: list = rows) -> float:
            return float(np.median([p[k] for p in rows]))

        lines.append(
            f"| {variant} | {method} | {point:g} | {eff:g} | {len(rows)} | {cells} | "
            f"{med('sr_selected'):.0f} / {med('sr_expected_flat'):.0f}, "
            f"{med('sr_expected_line'):.0f} | {med('pull_flat'):+.2f}, {med('pull_line'):+.2f} |"
        )
    return "\n".join(lines)


def plot(found: dict[tuple, list], edges: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    effs = sorted({k[3] for k in found})
    fig, axes = plt.subplots(1, len(effs), figsize=(5.5 * len(effs), 4), squeeze=False)
    centres = 0.5 * (edges[:-1] + edges[1:])
    for ax, eff in zip(axes[0], effs, strict=True):
        for (variant, method, point, e), rows in sorted(found.items()):
            if e != eff:
                continue
            ratio = np.array([[np.nan if r is None else r for r in p["ratio"]] for p in rows])
            label = f"{method} ({variant}, S/sqrt(B) = {point:g})"
            line = ax.plot(centres, np.nanmedian(ratio, axis=0), marker="o", label=label)[0]
            ax.fill_between(
                centres,
                np.nanmin(ratio, axis=0),
                np.nanmax(ratio, axis=0),
                color=line.get_color(),
                alpha=0.2,
            )
        ax.axvspan(P.SR_LOW, P.SR_HIGH, color="grey", alpha=0.15, label="signal region")
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_xlabel("mjj [GeV]")
        ax.set_ylabel("selected background fraction / efficiency")
        ax.set_title(f"efficiency {eff:g}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("output", type=Path, help="a suite.py output folder")
    ap.add_argument("--efficiencies", type=suite.float_list, default=list(suite.EFFICIENCIES))
    ap.add_argument(
        "--edges", type=suite.float_list, default=list(DEFAULT_EDGES), help="mjj bin edges [GeV]"
    )
    ap.add_argument("--plot", type=Path, help="write a figure of the selected fraction per bin")
    args = ap.parse_args(argv)
    edges = np.asarray(args.edges, dtype=float)
    found = collect(args.output, args.efficiencies, edges)
    print(markdown(found, edges))
    if args.plot:
        plot(found, edges, args.plot)
        print(f"figure written to {args.plot}")


if __name__ == "__main__":
    main()
