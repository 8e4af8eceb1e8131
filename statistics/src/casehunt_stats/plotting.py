"""Plots made only from the numbers stored in the stats JSON (mplhep style).

Every plot takes the JSON-ready dicts written by the rerun, so that whatever a
plot shows is also in ``stats/<method>.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import mplhep
import numpy as np
from scipy import stats

__all__ = ["plot_discovery_comparison", "plot_limits", "plot_region", "plot_spectrum"]


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
    return path


def plot_spectrum(spectrum: Mapping[str, Any], ax_main, ax_pull, label: str = "data") -> None:
    """mjj spectrum per GeV with the fit and its band, and the pulls below."""
    edges = np.asarray(spectrum["edges"], dtype=float)
    width = np.diff(edges)
    obs = np.asarray(spectrum["observed"], dtype=float)
    exp = np.asarray(spectrum["expected"], dtype=float)
    unc = np.asarray(spectrum.get("expected_unc", np.zeros_like(exp)), dtype=float)
    mplhep.histplot(obs / width, edges, yerr=np.sqrt(obs) / width, histtype="errorbar",
                    ax=ax_main, label=label, color="black")  # fmt: skip
    mplhep.histplot(exp / width, edges, ax=ax_main, label="dijet fit", color="tab:red")
    ax_main.stairs((exp + unc) / width, edges, baseline=(exp - unc) / width, fill=True,
                   alpha=0.3, color="tab:red")  # fmt: skip
    ax_main.set_yscale("log")
    ax_main.set_ylabel("events / GeV")
    ax_main.legend()
    pulls = np.asarray(spectrum["pulls"], dtype=float)
    ax_pull.stairs(pulls, edges, fill=True, color="tab:gray")
    ax_pull.axhline(0, color="black", lw=0.8)
    ax_pull.set_ylabel("pull")
    ax_pull.set_xlabel(r"$m_{jj}$ [GeV]")


def plot_limits(limits: Sequence[Mapping[str, Any]], ax, xsec: bool = False) -> None:
    """Observed and expected CLs limits with the 1 and 2 sigma (Brazil) bands."""
    pts = [p for p in limits if "expected_yield" in p]
    if not pts:
        return
    key_o, key_e = (
        ("observed_xsec_fb", "expected_xsec_fb") if xsec else ("observed_yield", "expected_yield")
    )
    m = np.array([p["mass"] for p in pts])
    obs = np.array([p[key_o] for p in pts], dtype=float)
    exp = np.array([p[key_e] for p in pts], dtype=float)
    ax.fill_between(m, exp[:, 0], exp[:, 4], color="#FFDF7F", label=r"expected $\pm 2\sigma$")
    ax.fill_between(m, exp[:, 1], exp[:, 3], color="#85D1FB", label=r"expected $\pm 1\sigma$")
    ax.plot(m, exp[:, 2], "k--", label="expected")
    ax.plot(m, obs, "k-o", ms=3, label="observed")
    ax.set_yscale("log")
    ax.set_xlabel("mass [GeV]")
    ax.set_ylabel(r"95% CL limit on $\sigma$ [fb]" if xsec else "95% CL limit on signal yield")
    ax.legend(fontsize="small")


def plot_pvalue_scan(scan: Mapping[str, Any], ax) -> None:
    """Local p-value against mass with 1-5 sigma reference lines."""
    pts = scan["points"]
    m = np.array([p["mass"] for p in pts])
    pv = np.array([p["p_value"] for p in pts], dtype=float)
    ax.plot(m, np.clip(pv, 1e-12, 1), "o-", ms=3, color="tab:blue", label="local p-value")
    for z in range(1, 6):
        p = stats.norm.sf(z)
        ax.axhline(p, color="tab:red", lw=0.6, ls=":")
        ax.text(m.max() if m.size else 0, p, rf" {z}$\sigma$", va="center", fontsize="small")
    ax.set_yscale("log")
    ax.set_ylim(min(1e-7, 0.2 * float(np.nanmin(pv))) if pv.size else 1e-7, 1.5)
    ax.set_xlabel("mass [GeV]")
    ax.set_ylabel("local p-value")


def plot_region(region: Mapping[str, Any], path: Path, title: str = "") -> Path:
    """The per-region figure: fit + pulls (left), p-value scan and limits (right)."""
    fig = plt.figure(figsize=(14, 8))
    gs = fig.add_gridspec(2, 2, height_ratios=[3, 1.3], hspace=0.3, wspace=0.25)
    ax_main = fig.add_subplot(gs[0, 0])
    ax_pull = fig.add_subplot(gs[1, 0], sharex=ax_main)
    plot_spectrum(region["spectrum"], ax_main, ax_pull)
    fit = region["fit"]
    ax_main.set_title(
        f"{title}  {fit['n_params']}-par fit, chi2/ndof = {fit['chi2']:.1f}/{fit['ndof']}",
        fontsize="medium",
    )
    ax_scan = fig.add_subplot(gs[0, 1])
    if region.get("scan") and region["scan"]["points"]:
        plot_pvalue_scan(region["scan"], ax_scan)
    ax_lim = fig.add_subplot(gs[1, 1])
    if region.get("limits"):
        plot_limits(region["limits"], ax_lim)
    return _save(fig, path)


def plot_discovery_comparison(
    results: Mapping[str, Mapping[str, Any]], path: Path, level: str = "5"
) -> Path:
    """Cross section needed for a discovery, per method against the inclusive search.

    ``results`` maps a method name to ``{"mass": ..., "xsec_3sigma": ..., "xsec_5sigma": ...}``
    or to a list of such points (one per signal mass).
    """
    fig, ax = plt.subplots(figsize=(8, 6))
    key = f"xsec_{level}sigma"
    for name, res in results.items():
        pts = res if isinstance(res, Sequence) else [res]
        pts = [p for p in pts if p.get(key) is not None]
        if not pts:
            continue
        ax.plot([p["mass"] for p in pts], [p[key] for p in pts], "o-",
                label=name, color="black" if name == "inclusive" else None)  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("mass [GeV]")
    ax.set_ylabel(rf"$\sigma$ for {level}$\sigma$ discovery [fb]")
    ax.legend()
    return _save(fig, path)
