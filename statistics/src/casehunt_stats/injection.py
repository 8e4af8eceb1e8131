"""Injection-calibrated limits and the discovery cross section, for any method.

A weakly supervised method's signal efficiency depends on how much signal the
data hold, so CASE (arXiv:2412.03747, Sec. 7) retrained at several injected
cross sections. Here the retraining is a callback: ``callback(sigma_inj)``
returns the selected mjj values and the signal efficiency eps_sig(sigma_inj)
of that selection. At every injection:

* the excluded cross section sigma_excl = N_excl / (eps_sig(sigma_inj) * eps_presel * L),
  with N_excl the CLs upper limit on the signal yield of that selection; the
  calibrated limit is min over injections of max(sigma_inj, sigma_excl), the
  point where the injected value crosses the excluded one;
* the Asimov significance of the expected yield sigma_inj * eps_sig * eps_presel * L;
  the cross sections for 3 and 5 sigma follow by linear interpolation.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .config import StatsConfig
from .errors import StatsError
from .ftest import fit_with_ftest
from .limits import mass_limit
from .signal_shape import SignalModel, SignalShape
from .significance import expected_significance

__all__ = [
    "InjectionPoint",
    "InjectionScan",
    "calibrated_limit",
    "discovery_cross_section",
    "inclusive_callback",
    "injection_calibrated_limit",
    "injection_scan",
]

#: ``callback(sigma_inj)`` -> (selected mjj, eps_sig) or (selected mjj, eps_sig, events per
#: unit of sigma_inj); the third element, when given, replaces eps_presel * L for that point
#: (for injections counted in other units, e.g. S/sqrt(B) in a signal region).
Callback = Callable[[float], tuple[Any, ...]]


def calibrated_limit(injected: Sequence[float], excluded: Sequence[float | None]) -> float | None:
    """min over injections of max(sigma_inj, sigma_excl) (CASE); None without any point."""
    vals = [max(i, e) for i, e in zip(injected, excluded, strict=True)
            if e is not None and math.isfinite(e)]  # fmt: skip
    return min(vals) if vals else None


def discovery_cross_section(
    injected: Sequence[float],
    significance: Sequence[float],
    levels: Sequence[float] = (3.0, 5.0),
    *,
    min_significance: float = 0.1,
    required_max: float = 4.0,
    extrapolation: float = 1.15,
) -> dict[float, float | None]:
    """Cross section for each significance level by linear interpolation (CASE rules).

    Points under ``min_significance`` are dropped; no result at all when the
    largest significance is under ``required_max`` (4 sigma); when it is under
    the highest level (5 sigma) one point is added at ``extrapolation`` (1.15)
    times the last injection, its significance extrapolated linearly from the
    last two points. Below the first point the curve is continued to (0, 0).
    A level that the curve never reaches gives None.
    """
    order = np.argsort(np.asarray(injected, dtype=float))
    x = np.asarray(injected, dtype=float)[order]
    z = np.asarray(significance, dtype=float)[order]
    keep = np.isfinite(z) & (z >= min_significance)
    x, z = x[keep], z[keep]
    out: dict[float, float | None] = {float(lv): None for lv in levels}
    if z.size == 0 or z.max() < required_max:
        return out
    if z.max() < max(levels):
        x_new = extrapolation * x[-1]
        if x.size >= 2 and x[-1] > x[-2]:
            slope = (z[-1] - z[-2]) / (x[-1] - x[-2])
        else:
            slope = z[-1] / x[-1]
        x = np.append(x, x_new)
        z = np.append(z, z[-1] + slope * (x_new - x[-2]))
    x = np.concatenate([[0.0], x])
    z = np.concatenate([[0.0], z])
    for lv in levels:
        above = np.nonzero(z >= lv)[0]
        if above.size == 0:
            continue
        j = int(above[0])
        x0, x1, z0, z1 = x[j - 1], x[j], z[j - 1], z[j]
        out[float(lv)] = float(x0 + (lv - z0) * (x1 - x0) / (z1 - z0)) if z1 != z0 else float(x1)
    return out


@dataclasses.dataclass
class InjectionPoint:
    """Results at one injected cross section."""

    injected_xsec: float
    signal_efficiency: float
    n_selected: int
    expected_signal: float
    excluded_yield: float | None
    excluded_xsec: float | None
    asimov_z: float | None
    n_params: int | None
    status: str = "ok"
    reason: str | None = None


@dataclasses.dataclass
class InjectionScan:
    """All injection points with the calibrated limit and discovery cross sections."""

    mass: float
    points: list[InjectionPoint]

    @property
    def limit(self) -> float | None:
        ok = [p for p in self.points if p.status == "ok"]
        return calibrated_limit([p.injected_xsec for p in ok], [p.excluded_xsec for p in ok])

    @property
    def discovery(self) -> dict[float, float | None]:
        ok = [
            (p.injected_xsec, p.asimov_z)
            for p in self.points
            if p.status == "ok" and p.asimov_z is not None
        ]
        return discovery_cross_section([x for x, _ in ok], [z for _, z in ok])

    def to_dict(self) -> dict[str, Any]:
        disc = self.discovery
        return {
            "mass": self.mass,
            "points": [dataclasses.asdict(p) for p in self.points],
            "calibrated_limit_xsec": self.limit,
            "xsec_3sigma": disc.get(3.0),
            "xsec_5sigma": disc.get(5.0),
        }


def injection_scan(
    callback: Callback,
    injected_xsecs: Sequence[float],
    *,
    mass: float,
    signal: SignalShape | SignalModel,
    luminosity: float,
    presel_efficiency: float = 1.0,
    config: StatsConfig | None = None,
    compute_limits: bool = True,
) -> InjectionScan:
    """Run the callback at each injected cross section (fb) and evaluate every point.

    ``luminosity`` in fb^-1. Each selection is fitted with the F-test; the CLs
    limit N_excl and the Asimov significance use the signal shape at ``mass``.
    """
    cfg = config or StatsConfig()
    shape = signal.at(mass) if isinstance(signal, SignalModel) else signal
    points = []
    for xs in injected_xsecs:
        out = callback(float(xs))
        mjj, eff = np.asarray(out[0], dtype=float), float(out[1])
        per_unit = float(out[2]) if len(out) > 2 else presel_efficiency * luminosity
        expected_sig = float(xs) * eff * per_unit
        try:
            ft, _ = fit_with_ftest(
                mjj, fit_range=cfg.fit_range, bin_width=cfg.bin_width,
                candidates=cfg.n_params, threshold=cfg.ftest_threshold,
                max_rel_uncertainty=cfg.max_rel_uncertainty, signal_mass=mass,
                sqrt_s=cfg.sqrt_s, poor_fit_pvalue=cfg.poor_fit_pvalue, **cfg.fit_options(),
            )  # fmt: skip
            fit = ft.chosen
            z = expected_significance(fit, shape, expected_sig) if expected_sig > 0 else 0.0
            n_excl = excl = None
            if compute_limits:
                lim = mass_limit(
                    fit, shape, mass=mass, mass_scale_unc=cfg.mass_scale_unc,
                    resolution_unc=cfg.resolution_unc, cl=cfg.cl,
                    calculator=cfg.limit_calculator, n_toys=cfg.limit_toys,
                )  # fmt: skip
                n_excl = lim.observed
                excl = n_excl / (eff * per_unit) if eff > 0 else None
            points.append(InjectionPoint(float(xs), float(eff), int(mjj.size), expected_sig,
                                         n_excl, excl, z, fit.n_params))  # fmt: skip
        except StatsError as exc:
            points.append(InjectionPoint(float(xs), float(eff), int(mjj.size), expected_sig,
                                         None, None, None, None, "failed", str(exc)))  # fmt: skip
    return InjectionScan(mass=float(mass), points=points)


def injection_calibrated_limit(
    callback: Callback,
    injected_xsecs: Sequence[float],
    **kwargs: Any,
) -> float | None:
    """The injection-calibrated cross-section limit (see :func:`injection_scan` for kwargs)."""
    return injection_scan(callback, injected_xsecs, **kwargs).limit


def inclusive_callback(
    background_mjj: np.ndarray,
    signal_mjj: np.ndarray,
    *,
    luminosity: float,
    presel_efficiency: float = 1.0,
    seed: int | np.random.Generator = 0,
) -> Callback:
    """The inclusive-search reference: no selection (eps_sig = 1), signal drawn from a pool.

    At sigma_inj the data are the background plus Poisson(sigma_inj * eps_presel * L)
    events drawn from ``signal_mjj`` (preselected signal events).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    bkg = np.asarray(background_mjj, dtype=float)
    pool = np.asarray(signal_mjj, dtype=float)

    def callback(xs: float) -> tuple[np.ndarray, float]:
        n = rng.poisson(xs * presel_efficiency * luminosity)
        return np.concatenate([bkg, rng.choice(pool, size=n, replace=True)]), 1.0

    return callback
