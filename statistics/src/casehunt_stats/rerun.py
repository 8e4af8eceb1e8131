"""Recompute every statistical result from a results directory (the reviewer rerun).

Layout read (written by the casehunt framework):
``manifest.json`` (``config.statistics`` holds the StatsConfig mapping),
``inclusive.h5`` (``mjj``: the resonant feature, named in the attribute
``resonant_feature``, mjj when absent), optional ``signal_templates.h5`` and
``<method>/selection.h5`` (one group per signal region). Written:
``stats/<method>.json``, ``stats/inclusive.json`` and ``plots/stats_*.png``.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .bumphunter import bumphunter_cross_check
from .config import StatsConfig
from .errors import FitError, StatsError
from .ftest import fit_with_ftest
from .limits import mass_limit
from .signal_shape import SignalModel
from .significance import global_significance, significance_scan
from .storage import (
    read_inclusive,
    read_resonant_feature,
    read_selection,
    read_signal_templates,
    write_json,
)

__all__ = ["analyze_region", "analyze_results", "load_config"]

log = logging.getLogger(__name__)

INCLUSIVE = "inclusive"


def load_config(results_dir: Path) -> StatsConfig:
    """The StatsConfig stored in ``manifest.json`` (``config.statistics``)."""
    path = Path(results_dir) / "manifest.json"
    if not path.is_file():
        raise StatsError(f"missing file: {path}")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StatsError(f"corrupt manifest {path}: {exc}") from exc
    if not isinstance(manifest, dict):
        raise StatsError(f"corrupt manifest {path}: not a JSON object")
    cfg = manifest.get("config") or {}
    if not isinstance(cfg, dict):
        raise StatsError(f"corrupt manifest {path}: 'config' is not an object")
    try:
        return StatsConfig.from_dict(cfg.get("statistics") or {})
    except (ValueError, TypeError) as exc:
        raise StatsError(f"invalid statistics config in {path}: {exc}") from exc


def analyze_region(
    mjj: np.ndarray,
    config: StatsConfig,
    signal: SignalModel,
    *,
    window: tuple[float, float] | None = None,
    signal_efficiency: float | None = None,
) -> tuple[dict[str, Any], Any]:
    """Background fit (F-test), significance scan and limits for one selection.

    Mass hypotheses are those of the config inside ``window`` = [sr_low, sr_high)
    and inside the fit range. Returns (JSON-ready dict, (fit, shapes) or None);
    a region that cannot be fitted is returned with status "failed" and a reason.
    """
    mjj = np.asarray(mjj, dtype=float)
    mjj = mjj[np.isfinite(mjj)]
    out: dict[str, Any] = {"status": "ok", "n_selected": int(mjj.size)}
    if config.fit_range is not None:
        lo, hi = config.fit_range
        n_in = int(np.sum((mjj >= lo) & (mjj < hi)))
    else:
        n_in = int(mjj.size)
    if n_in < config.min_events:
        out.update(status="failed",
                   reason=f"too few events to fit: {n_in} < min_events={config.min_events}")  # fmt: skip
        return out, None
    fit_range = config.fit_range
    if fit_range is None:
        lo = math.floor(float(mjj.min()) / config.bin_width) * config.bin_width
        hi = math.floor(float(mjj.max()) / config.bin_width + 1) * config.bin_width
        fit_range = (lo, hi)
    masses = config.masses(fit_range)
    if window is not None:
        masses = masses[(masses >= window[0]) & (masses < window[1])]
    signal_mass = float(np.median(masses)) if masses.size else None
    keep = (float(masses.min()) * 0.9, float(masses.max()) * 1.1) if masses.size else None
    try:
        ftest, used_range = fit_with_ftest(
            mjj, fit_range=fit_range, bin_width=config.bin_width, candidates=config.n_params,
            threshold=config.ftest_threshold, max_rel_uncertainty=config.max_rel_uncertainty,
            signal_mass=signal_mass, sqrt_s=config.sqrt_s, poor_fit_pvalue=config.poor_fit_pvalue,
            keep_inside=keep, **config.fit_options(),
        )  # fmt: skip
    except (FitError, StatsError) as exc:
        out.update(status="failed", reason=f"background fit failed: {exc}")
        return out, None
    fit = ftest.chosen
    masses = masses[(masses > used_range[0]) & (masses < used_range[1])]
    out["fit"] = fit.to_dict()
    out["ftest"] = ftest.to_dict()
    out["spectrum"] = fit.chi2_table()
    shapes = [signal.at(m) for m in masses]
    try:
        scan = significance_scan(
            fit, signal, masses,
            mass_scale_unc=config.mass_scale_unc, resolution_unc=config.resolution_unc,
        )  # fmt: skip
    except (FitError, StatsError) as exc:
        out.update(status="failed", reason=f"significance scan failed: {exc}")
        return out, None
    out["scan"] = scan.to_dict()
    out["signal_shapes"] = {
        str(round(float(m))): s.to_dict() for m, s in zip(masses, shapes, strict=True)
    }
    if config.bumphunter_toys > 0:
        # model-independent cross-check of the scan (bumphunter.py); never fails the region
        try:
            out["bumphunter"] = bumphunter_cross_check(
                fit, scan, shapes, n_toys=config.bumphunter_toys, widths=config.bumphunter_widths,
                global_toys=config.global_toys, seed=config.seed,
                same_range=config.bumphunter_same_range,
                exclusion_p=config.bumphunter_exclusion_p,
            )  # fmt: skip
        except StatsError as exc:
            out["bumphunter"] = {"error": str(exc)}
    limits = []
    if config.compute_limits:
        xs = None
        if config.luminosity is not None and signal_efficiency is not None:
            xs = 1.0 / (signal_efficiency * config.presel_efficiency * config.luminosity)
        for m, shape in zip(masses, shapes, strict=True):
            try:
                res = mass_limit(
                    fit, shape, mass=float(m), mass_scale_unc=config.mass_scale_unc,
                    resolution_unc=config.resolution_unc, cl=config.cl,
                    calculator=config.limit_calculator, n_toys=config.limit_toys, xsec_scale=xs,
                )  # fmt: skip
                limits.append(res.to_dict())
            except (StatsError, ValueError, RuntimeError) as exc:
                limits.append({"mass": float(m), "error": str(exc)})
    out["limits"] = limits
    return out, (fit, shapes)


def analyze_results(
    results_dir: Path, config: StatsConfig | None = None, plots: bool = True
) -> dict[str, dict]:
    """Recompute fits, significances and limits for every method and the inclusive spectrum.

    Returns ``{method: result}`` (including ``"inclusive"``) and writes
    ``stats/<method>.json`` (atomically) and, with ``plots``, ``plots/stats_<method>_<region>.png``.
    Raises StatsError naming the file when an input is missing or unreadable.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise StatsError(f"results directory not found: {results_dir}")
    if config is None:
        config = load_config(results_dir)
    inclusive = read_inclusive(results_dir / "inclusive.h5")
    feature = read_resonant_feature(results_dir / "inclusive.h5")
    tpl_path = results_dir / "signal_templates.h5"
    if tpl_path.exists():
        samples = read_signal_templates(tpl_path)
        try:
            signal = SignalModel.from_samples(samples, resolution=config.resolution)
        except (StatsError, ValueError) as exc:
            raise StatsError(f"{tpl_path}: signal shape fit failed: {exc}") from exc
    else:
        signal = SignalModel(resolution=config.resolution)
    selections = {}
    for path in sorted(results_dir.glob("*/selection.h5")):
        _, regions = read_selection(path)
        selections[path.parent.name] = regions

    results: dict[str, dict] = {}
    rng = np.random.default_rng(config.seed)
    jobs: list[tuple[str, dict[str, dict[str, Any]]]] = [
        (INCLUSIVE, {INCLUSIVE: {"mjj": inclusive}}),
        *sorted(selections.items()),
    ]
    for method, regions in jobs:
        result: dict[str, Any] = {
            "method": method,
            "format_version": 1,
            "casehunt_stats_version": __version__,
            "config": config.to_dict(),
            "resonant_feature": feature,
            "signal_model": signal.to_dict(),
            "regions": {},
        }
        hunts = []
        for name, reg in regions.items():
            window = None if method == INCLUSIVE else (reg["sr_low"], reg["sr_high"])
            sig_eff = 1.0 if method == INCLUSIVE else config.signal_efficiency
            out, hunt = analyze_region(
                reg["mjj"], config, signal, window=window, signal_efficiency=sig_eff
            )
            for key in ("efficiency", "threshold", "sr_low", "sr_high", "sb_low", "sb_high"):
                if key in reg:
                    out[key] = reg[key]
            result["regions"][name] = out
            if hunt is not None and hunt[1]:
                hunts.append(hunt)
            if out["status"] != "ok":
                log.warning("%s/%s: %s", method, name, out.get("reason"))
        if config.global_toys > 0 and hunts:
            glob = global_significance(hunts, config.global_toys, seed=rng)
            result["global"] = glob.to_dict()
        else:
            result["global"] = None
        write_json(results_dir / "stats" / f"{method}.json", result)
        if plots:
            from .plotting import plot_region

            for name, out in result["regions"].items():
                if out["status"] == "ok":
                    plot_region(out, results_dir / "plots" / f"stats_{method}_{name}.png",
                                title=f"{method} {name}", feature=feature)  # fmt: skip
        results[method] = result
    return results
