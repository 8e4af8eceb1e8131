"""Plots of a run: the resonant-feature spectra before and after each method's selection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_mjj_selection(
    path: Path,
    method: str,
    mjj_all: np.ndarray,
    selections: dict[str, dict[str, Any]],
    injected: np.ndarray | None = None,
    feature: str = "mjj",
) -> None:
    """Inclusive and selected spectra of the resonant feature `feature` (values `mjj_all`),
    one panel per region, signal windows shaded."""
    from casehunt_stats.plotting import feature_label

    plt = _pyplot()
    import mplhep

    plt.style.use(mplhep.style.CMS)
    n = len(selections)
    ncols = min(n, 3)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(7 * ncols, 6 * nrows), squeeze=False)
    lo, hi = np.percentile(mjj_all, [0.0, 99.9])
    bins = np.linspace(lo, hi, 60)
    for ax, (name, sel) in zip(axes.flat, selections.items(), strict=False):
        region = sel["region"]
        ax.hist(mjj_all, bins=bins, histtype="step", color="black", label="preselected")
        if injected is not None and injected.any():
            ax.hist(
                mjj_all[injected],
                bins=bins,
                histtype="step",
                color="tab:red",
                ls="--",
                label="injected signal",
            )
        ax.hist(
            sel["mjj"],
            bins=bins,
            histtype="stepfilled",
            alpha=0.6,
            label=f"selected ({sel['efficiency']:.1%})",
        )
        ax.axvspan(region.low, region.high, color="tab:orange", alpha=0.15, label="signal region")
        ax.axvspan(region.sb_low, region.low, color="tab:blue", alpha=0.07, label="sidebands")
        ax.axvspan(region.high, region.sb_high, color="tab:blue", alpha=0.07)
        ax.set_yscale("log")
        ax.set_xlabel(feature_label(feature))
        ax.set_ylabel("events / bin")
        ax.set_title(f"{method}: {name}", fontsize=16)
        ax.legend(fontsize=11)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
