"""Plots made only from the numbers stored in the stats JSON.

Every plot takes the JSON-ready dicts written by the rerun, so that whatever a
plot shows is also in ``stats/<method>.json``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import transforms
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats

__all__ = ["plot_discovery_comparison", "plot_limits", "plot_region", "plot_spectrum"]


# A plain, readable style applied to every figure here, so that a global style set
# elsewhere (e.g. mplhep's CMS style with its large fonts) cannot break the layout.
_RC: dict[Any, Any] = {  # matplotlib types its keys as literals
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "mathtext.fontset": "dejavusans",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "xtick.direction": "in",
    "ytick.direction": "in",
    "xtick.top": True,
    "ytick.right": True,
    "axes.grid": False,
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "lines.linewidth": 1.3,
}


@contextlib.contextmanager
def _style():
    """Matplotlib's defaults plus _RC, whatever global style is active."""
    with plt.style.context("default"), plt.rc_context(_RC):
        yield


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path


def plot_spectrum(
    spectrum: Mapping[str, Any],
    ax_main: Axes,
    ax_pull: Axes,
    label: str = "data",
    *,
    fit_label: str = "dijet fit",
    window: tuple[float, float] | None = None,
    xlabel: str = r"$m_{jj}$ [GeV]",
) -> None:
    """Data points (Poisson errors) per GeV, the fit with its 1-sigma band, the fit
    range and the signal-region ``window``; pulls (obs - fit) / sqrt(fit) below."""
    edges = np.asarray(spectrum["edges"], dtype=float)
    width = np.diff(edges)
    centres = 0.5 * (edges[:-1] + edges[1:])
    obs = np.asarray(spectrum["observed"], dtype=float)
    exp = np.asarray(spectrum["expected"], dtype=float)
    unc = np.asarray(spectrum.get("expected_unc", np.zeros_like(exp)), dtype=float)
    ax_main.stairs((exp + unc) / width, edges, baseline=np.maximum(exp - unc, 0) / width,
                   fill=True, alpha=0.3, color="tab:red", lw=0, label=r"fit $\pm1\sigma$")  # fmt: skip
    ax_main.stairs(exp / width, edges, color="tab:red", label=fit_label, baseline=None)
    # 68% Poisson (Garwood) intervals: also for bins with no event
    lo = np.where(obs > 0, stats.chi2.ppf(0.16, 2 * obs) / 2, 0.0)
    hi = stats.chi2.ppf(0.84, 2 * (obs + 1)) / 2
    pos = obs > 0
    ax_main.errorbar(centres[pos], obs[pos] / width[pos],
                     yerr=[(obs - lo)[pos] / width[pos], (hi - obs)[pos] / width[pos]],
                     xerr=width[pos] / 2, fmt="o", ms=3, color="black", elinewidth=1,
                     label=label)  # fmt: skip
    if window is not None:
        for ax in (ax_main, ax_pull):
            ax.axvspan(*window, color="tab:blue", alpha=0.08, lw=0)
        ax_main.axvspan(*window, color="tab:blue", alpha=0.0, label="signal region")
    for ax in (ax_main, ax_pull):
        for e in (edges[0], edges[-1]):
            ax.axvline(e, color="gray", ls="--", lw=0.8)
    ax_main.plot([], [], color="gray", ls="--", lw=0.8, label="fit range")
    ax_main.set_yscale("log")
    ymax = max(float(np.max(np.maximum(obs, exp) / width)), 1e-12)
    positive = (exp / width)[exp > 0]
    ymin = max(float(np.min(positive)) * 0.3, ymax * 1e-7) if positive.size else ymax * 1e-3
    ymin = min(ymin, 0.3 * float(np.min((obs / width)[pos]))) if pos.any() else ymin
    ax_main.set_ylim(ymin, ymax * 30)  # headroom for the legend
    ax_main.set_ylabel("events / GeV")
    ax_main.legend(loc="upper right", ncol=2, frameon=False)
    pulls = np.asarray(spectrum["pulls"], dtype=float)
    ax_pull.bar(centres, pulls, width=width, color="tab:gray", edgecolor="none")
    ax_pull.axhline(0, color="black", lw=0.8)
    for y in (-2, 2):
        ax_pull.axhline(y, color="black", lw=0.5, ls=":")
    lim = max(3.0, min(float(np.max(np.abs(pulls))) * 1.15, 20.0)) if pulls.size else 3.0
    ax_pull.set_ylim(-lim, lim)
    ax_pull.set_ylabel("(data - fit) / $\\sigma_\\mathrm{stat}$")
    ax_pull.set_xlabel(xlabel)
    ax_pull.set_xlim(
        edges[0] - 0.02 * (edges[-1] - edges[0]), edges[-1] + 0.02 * (edges[-1] - edges[0])
    )


def _mass_xlim(ax: Axes, m: np.ndarray) -> None:
    if m.size:
        pad = max(50.0, 0.05 * float(m.max() - m.min()))
        ax.set_xlim(float(m.min()) - pad, float(m.max()) + pad)


def plot_limits(limits: Sequence[Mapping[str, Any]], ax: Axes, xsec: bool = False) -> None:
    """Observed and expected CLs limits with the 1 and 2 sigma (Brazil) bands."""
    pts = [p for p in limits if "expected_yield" in p and p.get("expected_yield")]
    if not pts:
        ax.text(0.5, 0.5, "no limits", transform=ax.transAxes, ha="center")
        return
    key_o, key_e = (
        ("observed_xsec_fb", "expected_xsec_fb") if xsec else ("observed_yield", "expected_yield")
    )
    m = np.array([p["mass"] for p in pts], dtype=float)
    obs = np.array([p[key_o] for p in pts], dtype=float)
    exp = np.array([p[key_e] for p in pts], dtype=float)
    mx = m if m.size > 1 else np.array([m[0] - 40.0, m[0] + 40.0])
    ex = exp if m.size > 1 else np.repeat(exp, 2, axis=0)
    ax.fill_between(mx, ex[:, 0], ex[:, 4], color="#FFDF7F", label=r"expected $\pm 2\sigma$")
    ax.fill_between(mx, ex[:, 1], ex[:, 3], color="#85D1FB", label=r"expected $\pm 1\sigma$")
    ax.plot(mx, ex[:, 2], "k--", label="expected")
    ax.plot(m, obs, "k-o", ms=3, label="observed")
    ax.set_yscale("log")
    top = float(np.nanmax([np.nanmax(obs), np.nanmax(exp)]))
    bottom = float(np.nanmin([np.nanmin(obs), np.nanmin(exp)]))
    ax.set_ylim(bottom * 0.5, top * 12)  # headroom for the legend
    _mass_xlim(ax, m)
    ax.set_xlabel("signal mass [GeV]")
    ax.set_ylabel(r"95% CL limit on $\sigma$ [fb]" if xsec else "95% CL limit on signal yield")
    ax.legend(loc="upper left", ncol=2, frameon=False)


def _log10_p(pts: Sequence[Mapping[str, Any]]) -> np.ndarray:
    out = []
    for p in pts:
        lp = p.get("log10_p_value")
        if lp is None:
            pv = p.get("p_value")
            lp = float(np.log10(pv)) if pv is not None and pv > 0 else -np.inf
        out.append(lp)
    return np.array(out, dtype=float)


def plot_pvalue_scan(scan: Mapping[str, Any], ax: Axes, floor_log10: float = -15.0) -> None:
    """Local p-value against mass with labelled 1-5 sigma lines.

    p-values are plotted exactly down to 10^floor_log10; smaller ones (a very strong
    signal) are drawn as down-pointing triangles on the lower edge, labelled with
    their local significance, so that the 1-5 sigma region stays readable.
    """
    pts = scan["points"]
    m = np.array([p["mass"] for p in pts], dtype=float)
    lp = _log10_p(pts)
    z = np.array([p["z"] if p.get("z") is not None else np.nan for p in pts], dtype=float)
    lowest = float(np.nanmin(lp)) if lp.size else 0.0
    bottom = max(min(-7.5, lowest - 0.7), floor_log10)
    shown = np.maximum(lp, bottom)
    ax.plot(m, 10.0**shown, "-", color="tab:blue", lw=1.2)
    inside = lp >= bottom
    ax.plot(m[inside], 10.0 ** lp[inside], "o", ms=4, color="tab:blue")
    if (~inside).any():
        ax.plot(m[~inside], np.full((~inside).sum(), 10.0**bottom), "v", ms=7, color="tab:blue",
                clip_on=False)  # fmt: skip
        ax.text(0.01, 0.01, rf"$\blacktriangledown$: p < $10^{{{bottom:.0f}}}$, local Z given",
                transform=ax.transAxes, fontsize=8, color="tab:blue", va="bottom")  # fmt: skip
        for mi, zi in zip(m[~inside], z[~inside], strict=True):
            ax.annotate(f"{zi:.1f}" + r"$\sigma$", (mi, 10.0**bottom), xytext=(0, 9),
                        textcoords="offset points", ha="center", fontsize=8, color="tab:blue")  # fmt: skip
    tr = transforms.blended_transform_factory(ax.transAxes, ax.transData)
    for k in range(1, 6):
        p = stats.norm.sf(k)
        ax.axhline(p, color="tab:red", lw=0.7, ls=":")
        ax.text(0.995, p, rf"{k}$\sigma$", transform=tr, ha="right", va="bottom",
                fontsize=8, color="tab:red")  # fmt: skip
    ax.set_yscale("log")
    ax.set_ylim(10.0**bottom / 2.0, 3.0)
    _mass_xlim(ax, m)
    ax.set_xlabel("signal mass [GeV]")
    ax.set_ylabel("local p-value")


def feature_label(feature: str) -> str:
    """Axis label of a resonant feature: LaTeX for mjj and the jet masses, else its name."""
    known = {"mjj": r"$m_{jj}$", "mj1": r"$m_{j1}$", "mj2": r"$m_{j2}$"}
    return f"{known.get(feature, feature)} [GeV]"


def plot_region(
    region: Mapping[str, Any], path: Path, title: str = "", feature: str = "mjj"
) -> Path:
    """The per-region figure: fit with pulls (left); local p-value scan and CLs limits (right)."""
    with _style():
        fig = plt.figure(figsize=(12.5, 7.0), layout="constrained")
        gs = fig.add_gridspec(2, 2, height_ratios=[2.6, 1.0], width_ratios=[1.25, 1.0])
        left = gs[:, 0].subgridspec(2, 1, height_ratios=[3.0, 1.0], hspace=0.0)
        ax_main = fig.add_subplot(left[0])
        ax_pull = fig.add_subplot(left[1], sharex=ax_main)
        ax_main.tick_params(labelbottom=False)
        fit = region["fit"]
        window = None
        if region.get("sr_low") is not None and region.get("sr_high") is not None:
            window = (float(region["sr_low"]), float(region["sr_high"]))
        family = fit.get("background", "dijet")
        plot_spectrum(region["spectrum"], ax_main, ax_pull, window=window,
                      fit_label=f"{fit['n_params']}-parameter {family} fit",
                      xlabel=feature_label(feature))  # fmt: skip
        chi2 = rf"$\chi^2$/ndf = {fit['chi2']:.1f}/{fit['ndof']}"
        ax_main.set_title(f"{title}: {chi2}", loc="left")
        ax_scan = fig.add_subplot(gs[0, 1])
        if region.get("scan") and region["scan"]["points"]:
            plot_pvalue_scan(region["scan"], ax_scan)
            best = region["scan"]
            if best.get("max_z") is not None:
                ax_scan.set_title(f"max local Z = {best['max_z']:.1f} at "
                                  f"{best['max_z_mass']:.0f} GeV", loc="left")  # fmt: skip
        ax_lim = fig.add_subplot(gs[1, 1])
        plot_limits(region.get("limits") or [], ax_lim)
        return _save(fig, path)


def plot_discovery_comparison(
    results: Mapping[str, Mapping[str, Any] | Sequence[Mapping[str, Any]]],
    path: Path,
    level: str = "5",
) -> Path:
    """Cross section needed for a discovery, per method against the inclusive search.

    ``results`` maps a method name to ``{"mass": ..., "xsec_3sigma": ..., "xsec_5sigma": ...}``
    or to a list of such points (one per signal mass).
    """
    with _style():
        fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
        _discovery(results, ax, level)
        return _save(fig, path)


def _discovery(results: Mapping[str, Any], ax: Axes, level: str) -> None:
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
    ax.legend(frameon=False)
