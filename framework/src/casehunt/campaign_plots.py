"""The numbers and plots of a sensitivity campaign (``campaign.json``), as CASE shows them.

CASE (arXiv:2412.03747, Figs. 11-12) compares methods by the signal cross section each
needs for a 3 and a 5 sigma excess, relative to the inclusive dijet search. The HTML
report, the HEPData export and the campaign code all read those numbers through
:func:`discovery_rows` and :func:`significance_curves`, so every output shows the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

INCLUSIVE = "inclusive"

#: File names of the campaign plots under ``<campaign>/plots/``.
DISCOVERY_PNG = "discovery.png"
SIGNIFICANCE_PNG = "significance_vs_injection.png"


def result_names(campaign: dict[str, Any]) -> list[str]:
    """The result keys in display order: the methods as listed, any others, inclusive last."""
    results = campaign.get("results") or {}
    names = [m for m in campaign.get("methods") or [] if m in results and m != INCLUSIVE]
    names += sorted(k for k in results if k not in names and k != INCLUSIVE)
    if INCLUSIVE in results:
        names.append(INCLUSIVE)
    return names


def _median(block: Any) -> float | None:
    return block.get("median") if isinstance(block, dict) else None


def _per_seed(block: Any) -> list[float | None]:
    return list(block.get("per_seed") or []) if isinstance(block, dict) else []


def improvement(campaign: dict[str, Any], name: str, level: str) -> float | None:
    """How many times less signal than the inclusive search ``name`` needs at ``level``.

    ``improvement_<level>`` of campaign.json where it is written, otherwise the inclusive
    median over the method's median (``ratio_<level>_to_inclusive`` is left alone: it
    is the inverse, method / inclusive).
    """
    results = campaign.get("results") or {}
    res = results.get(name) or {}
    if res.get(f"improvement_{level}") is not None:
        return float(res[f"improvement_{level}"])
    mine = _median(res.get(f"xsec_{level}"))
    ref = _median((results.get(INCLUSIVE) or {}).get(f"xsec_{level}"))
    return ref / mine if mine and ref is not None else None


def discovery_rows(campaign: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per method (and the inclusive search): medians and per-seed values as stored."""
    rows = []
    for name in result_names(campaign):
        res = campaign["results"][name] or {}
        rows.append(
            {
                "name": name,
                "xsec_3sigma": _median(res.get("xsec_3sigma")),
                "xsec_3sigma_per_seed": _per_seed(res.get("xsec_3sigma")),
                "xsec_5sigma": _median(res.get("xsec_5sigma")),
                "xsec_5sigma_per_seed": _per_seed(res.get("xsec_5sigma")),
                "calibrated_limit": _median(res.get("calibrated_limit")),
                "calibrated_limit_per_seed": _per_seed(res.get("calibrated_limit")),
                "improvement_3sigma": improvement(campaign, name, "3sigma"),
                "improvement_5sigma": improvement(campaign, name, "5sigma"),
            }
        )
    return rows


def unit_of(campaign: dict[str, Any]) -> str:
    """The unit of the injected amounts and of the signal needed (fb, events, S/sqrt(B))."""
    return str(campaign.get("unit") or "events")


def significance_curves(campaign: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """Per result: levels, and the median, lowest and highest Asimov Z over the seeds.

    Only points with status "ok" and a number count; levels where no seed has one are left out.
    """
    curves = {}
    for name in result_names(campaign):
        by_level: dict[float, list[float]] = {}
        for p in (campaign["results"][name] or {}).get("points") or []:
            if p.get("status") == "ok" and p.get("asimov_z") is not None:
                by_level.setdefault(float(p["level"]), []).append(float(p["asimov_z"]))
        levels = sorted(by_level)
        curves[name] = {
            "level": np.array(levels, dtype=float),
            "median": np.array([np.median(by_level[v]) for v in levels], dtype=float),
            "low": np.array([min(by_level[v]) for v in levels], dtype=float),
            "high": np.array([max(by_level[v]) for v in levels], dtype=float),
            "n_seeds": np.array([len(by_level[v]) for v in levels], dtype=int),
        }
    return curves


def amount_label(campaign: dict[str, Any]) -> str:
    """Axis label of the injected amount in the campaign's unit."""
    unit = unit_of(campaign)
    if unit == "fb":
        return "injected signal cross section [fb]"
    if unit == "events":
        return "injected signal events"
    return f"injected signal [{unit}]"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _style(plt: Any) -> Any:
    """Matplotlib's defaults, whatever global style (e.g. mplhep's CMS) a run set."""
    return plt.style.context("default")


def _save(fig: Any, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def plot_discovery_comparison(campaign: dict[str, Any], path: Path) -> Path:
    """Left: signal needed for 3 and 5 sigma per search; right: inclusive / method ratios."""
    plt = _pyplot()
    from matplotlib import ticker

    rows = discovery_rows(campaign)
    unit = unit_of(campaign)
    with _style(plt):
        fig, (ax_abs, ax_ratio) = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
        x = np.arange(len(rows))
        for offset, key, marker, label in (
            (-0.1, "3sigma", "o", r"3$\sigma$"),
            (0.1, "5sigma", "s", r"5$\sigma$"),
        ):
            med = [r[f"xsec_{key}"] for r in rows]
            lo, hi = [], []
            for r, m in zip(rows, med, strict=True):
                seeds = [v for v in r[f"xsec_{key}_per_seed"] if v is not None]
                lo.append(m - min(seeds) if seeds and m is not None else 0.0)
                hi.append(max(seeds) - m if seeds and m is not None else 0.0)
            has = np.array([m is not None for m in med])
            y = np.array([np.nan if m is None else m for m in med], dtype=float)
            if has.any():
                ax_abs.errorbar(
                    x[has] + offset,
                    y[has],
                    yerr=[np.array(lo)[has], np.array(hi)[has]],
                    fmt=marker,
                    capsize=3,
                    label=f"{label} (median, seed range)",
                )
            ratio = np.array(
                [
                    np.nan if r[f"improvement_{key}"] is None else r[f"improvement_{key}"]
                    for r in rows
                ],
                dtype=float,
            )
            ok = np.isfinite(ratio)
            if ok.any():
                ax_ratio.plot(x[ok] + offset, ratio[ok], marker, ms=7, label=label)
        plain = ticker.FuncFormatter(lambda v, _pos: f"{v:g}")
        for ax in (ax_abs, ax_ratio):
            ax.set_xticks(x, [r["name"] for r in rows], rotation=20)
            ax.set_xlim(-0.6, len(rows) - 0.4)
            ax.set_yscale("log")
            if ax.get_legend_handles_labels()[0]:  # nothing drawn when no level is reached
                ax.legend(frameon=False)
            lo, hi = ax.get_ylim()
            ax.yaxis.set_major_formatter(plain)  # 1, 10, ... not 10^0, 10^1
            # label the 2..9 ticks only when they do not crowd (about a decade or less)
            crowded = not (lo > 0 and np.log10(hi / lo) <= 1.5)
            ax.yaxis.set_minor_formatter(ticker.NullFormatter() if crowded else plain)
        ax_abs.set_ylabel(f"signal needed for the excess [{unit}]")
        ax_ratio.axhline(1.0, color="black", lw=0.8, ls="--")
        ax_ratio.set_ylabel("inclusive / method (times less signal needed)")
        mass = campaign.get("signal_mass")
        fig.suptitle(
            f"{campaign.get('name', 'campaign')}: discovery sensitivity"
            + (f" at {mass:g} GeV" if isinstance(mass, (int, float)) else "")
        )
        return _save(fig, path)


def plot_significance_vs_injection(campaign: dict[str, Any], path: Path) -> Path:
    """Median Asimov significance over the seeds against the injected amount, per search."""
    plt = _pyplot()
    curves = significance_curves(campaign)
    with _style(plt):
        fig, ax = plt.subplots(figsize=(7, 4.8), layout="constrained")
        all_levels = np.concatenate([c["level"] for c in curves.values()] or [np.zeros(0)])
        for name, c in curves.items():
            if not c["level"].size:
                continue
            kw = {"color": "black", "linestyle": "--"} if name == INCLUSIVE else {}
            (line,) = ax.plot(c["level"], c["median"], marker="o", label=name, **kw)
            ax.fill_between(c["level"], c["low"], c["high"], color=line.get_color(), alpha=0.2)
        for z in (3.0, 5.0):
            ax.axhline(z, color="tab:red", lw=0.8, ls=":")
            ax.text(0.01, z, rf" {z:.0f}$\sigma$", color="tab:red", va="bottom",
                    transform=ax.get_yaxis_transform())  # fmt: skip
        positive = all_levels[all_levels > 0]
        if positive.size and positive.max() > 10 * positive.min():
            ax.set_xscale("log")
        ax.set_xlabel(amount_label(campaign))
        ax.set_ylabel("Asimov significance (median, band: seed range)")
        ax.set_ylim(bottom=0.0)
        if curves and any(c["level"].size for c in curves.values()):
            ax.legend(frameon=False)
        else:
            ax.text(0.5, 0.5, "no successful points", transform=ax.transAxes, ha="center")
        return _save(fig, path)


def write_campaign_plots(campaign: dict[str, Any], plots_dir: Path) -> list[Path]:
    """Both campaign plots under ``plots_dir`` (the names the HTML report embeds)."""
    return [
        plot_discovery_comparison(campaign, Path(plots_dir) / DISCOVERY_PNG),
        plot_significance_vs_injection(campaign, Path(plots_dir) / SIGNIFICANCE_PNG),
    ]
