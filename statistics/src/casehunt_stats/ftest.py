"""Choice of the number of background-function parameters by a Fisher F-test.

F = [(chi2_small - chi2_large) / (ndof_small - ndof_large)] / (chi2_large / ndof_large),
chi2 on the CMS dijet bins (or uniform chi2 bins, for the exponential polynomial)
after merging bins with fewer than 5 events; the
larger model is taken when p(F) < threshold (CASE: 0.10) and its relative fit
uncertainty at the signal mass is below a cap (0.15) or below the smaller
model's (CASE, arXiv:2412.03747; the CMS dijet searches, arXiv:1911.03947).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from .dijet import (
    DIJET_BIN_EDGES,
    EXPPOLY_CHI2_FINE_BINS,
    BackgroundFit,
    bin_events,
    chi2_binning,
    default_fit_range,
    fit_binned,
)
from .errors import FitError, StatsError

__all__ = ["FTestResult", "fit_with_ftest", "ftest_select"]


@dataclasses.dataclass
class FTestResult:
    """The chosen fit, every candidate fit, and the sequence of F-tests."""

    chosen: BackgroundFit
    fits: dict[int, BackgroundFit]
    tests: list[dict]
    signal_mass: float

    @property
    def n_params(self) -> int:
        return self.chosen.n_params

    def to_dict(self) -> dict:
        return {
            "chosen_n_params": self.n_params,
            "signal_mass": self.signal_mass,
            "tests": self.tests,
            "candidates": {
                str(n): {"chi2": f.chi2, "ndof": f.ndof, "nll": f.nll} for n, f in self.fits.items()
            },
        }


def _none_if_nan(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def ftest_select(
    counts: np.ndarray,
    edges: np.ndarray,
    *,
    candidates: Sequence[int] = (3, 4, 5),
    threshold: float = 0.10,
    max_rel_uncertainty: float = 0.15,
    signal_mass: float | None = None,
    sqrt_s: float = 13000.0,
    family: str = "dijet",
    chi2_bin_width: float | None = None,
) -> FTestResult:
    """Fit every candidate (smallest first, each started from the previous one) and pick one.

    The tests go up one model at a time and stop at the first larger model that
    is not taken. ``signal_mass`` (default: the centre of the range) is where the
    relative fit uncertainty is evaluated. ``family`` and ``chi2_bin_width`` as in
    :func:`~casehunt_stats.dijet.fit_binned`.
    """
    cands = sorted(set(candidates))
    if signal_mass is None:
        signal_mass = 0.5 * (edges[0] + edges[-1])
    fits: dict[int, BackgroundFit] = {}
    start = None
    for n in cands:
        try:
            fits[n] = fit_binned(
                counts, edges, n, sqrt_s=sqrt_s, start=start, family=family,
                chi2_bin_width=chi2_bin_width,
            )  # fmt: skip
            start = fits[n].theta[1:]
        except FitError:
            if not fits:
                raise
            break
    chosen = fits[cands[0]]
    tests = []
    for n in cands[1:]:
        if n not in fits:
            tests.append({"n_small": chosen.n_params, "n_large": n, "accepted": False,
                          "reason": "larger fit did not converge"})  # fmt: skip
            break
        large = fits[n]
        d_ndof = chosen.ndof - large.ndof
        if large.ndof <= 0 or d_ndof <= 0:
            tests.append({"n_small": chosen.n_params, "n_large": n, "accepted": False,
                          "reason": "no degrees of freedom left"})  # fmt: skip
            break
        f_stat = ((chosen.chi2 - large.chi2) / d_ndof) / (large.chi2 / large.ndof)
        p = float(stats.f.sf(f_stat, d_ndof, large.ndof))
        unc_small = chosen.rel_uncertainty_at(signal_mass)
        unc_large = large.rel_uncertainty_at(signal_mass)
        accepted = p < threshold and (unc_large < max_rel_uncertainty or unc_large < unc_small)
        tests.append(
            {
                "n_small": chosen.n_params,
                "n_large": n,
                "F": _none_if_nan(f_stat),
                "p_value": _none_if_nan(p),
                "rel_unc_small": _none_if_nan(unc_small),
                "rel_unc_large": _none_if_nan(unc_large),
                "accepted": bool(accepted),
            }
        )
        if not accepted:
            break
        chosen = large
    return FTestResult(chosen=chosen, fits=fits, tests=tests, signal_mass=float(signal_mass))


def fit_with_ftest(
    mjj: np.ndarray,
    *,
    fit_range: tuple[float, float] | None = None,
    bin_width: float = 4.0,
    candidates: Sequence[int] = (3, 4, 5),
    threshold: float = 0.10,
    max_rel_uncertainty: float = 0.15,
    signal_mass: float | None = None,
    sqrt_s: float = 13000.0,
    poor_fit_pvalue: float = 0.0,
    keep_inside: tuple[float, float] | None = None,
    family: str = "dijet",
    chi2_bin_width: float | None = None,
) -> tuple[FTestResult, tuple[float, float]]:
    """Bin events, F-test, and (optionally) retry poor fits on a narrower range.

    When the chosen fit's chi2 p-value is under ``poor_fit_pvalue``, the lower
    edge is raised and the upper edge lowered to neighbouring chi2 bin edges (CMS
    dijet edges, CASE; or the uniform chi2 bins), never cutting into ``keep_inside``;
    the best of the tried ranges is returned with its range.
    """
    mjj = np.asarray(mjj, dtype=float)
    rng = fit_range or default_fit_range(mjj, bin_width)
    ranges = [rng]
    if family == "exppoly" and chi2_bin_width is None:
        chi2_bin_width = EXPPOLY_CHI2_FINE_BINS * bin_width
    if poor_fit_pvalue > 0:
        # without a region to protect, any edge inside the range may move
        keep_lo, keep_hi = keep_inside or (rng[1], rng[0])
        steps = (
            DIJET_BIN_EDGES if chi2_bin_width is None else chi2_binning(rng, None, chi2_bin_width)
        )
        ups = [e for e in steps if rng[0] < e < min(keep_lo, rng[1])][:2]
        downs = [e for e in steps[::-1] if max(keep_hi, rng[0]) < e < rng[1]][:2]
        ranges += [(float(lo), rng[1]) for lo in ups]
        ranges += [(rng[0], float(hi)) for hi in downs]
        if ups and downs:
            ranges.append((float(ups[0]), float(downs[0])))
    best = None
    for r in ranges:
        counts, edges = bin_events(mjj, r, bin_width)
        if counts.sum() < 10:
            if best is None and r is ranges[-1]:
                raise StatsError(f"too few events ({counts.sum():.0f}) in the fit range {r}")
            continue
        try:
            res = ftest_select(
                counts, edges, candidates=candidates, threshold=threshold,
                max_rel_uncertainty=max_rel_uncertainty, signal_mass=signal_mass, sqrt_s=sqrt_s,
                family=family, chi2_bin_width=chi2_bin_width,
            )  # fmt: skip
        except FitError:
            if r is ranges[-1] and best is None:
                raise
            continue
        pval = res.chosen.chi2_pvalue
        if best is None or (math.isfinite(pval) and pval > best[0].chosen.chi2_pvalue):
            best = (res, r)
        if not (pval < poor_fit_pvalue):
            break
    if best is None:
        raise StatsError(f"no fit range could be fitted (tried {ranges})")
    return best
