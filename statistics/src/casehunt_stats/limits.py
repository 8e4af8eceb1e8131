"""95% CL CLs upper limits on the signal yield with pyhf.

CLs = CL_{s+b} / CL_b (A. L. Read, J. Phys. G 28 (2002) 2693), with the
q~_mu test statistic and the asymptotic formulae of Cowan, Cranmer, Gross,
Vitells (arXiv:1007.1727) by default, or pyhf's toy calculator.

The pyhf model covers a window of about +-4 signal widths around the mass: the
background is the fitted background function with one histosys per eigenvector of
the fit covariance (the fit uncertainty, correlated across bins as the fit
says), the signal is the shape with histosys for the mass scale and resolution
(CASE: 1% and 3.5%) and a free normalisation.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import pyhf
from pyhf.infer import calculators, mle
from scipy import interpolate, optimize, stats

from .dijet import BackgroundFit
from .errors import StatsError
from .signal_shape import SignalShape

__all__ = ["LimitResult", "build_pyhf_model", "cls_upper_limit", "mass_limit"]


@dataclasses.dataclass
class LimitResult:
    """Upper limit on the signal yield: observed and expected (-2, -1, 0, +1, +2 sigma)."""

    observed: float
    expected: tuple[float, float, float, float, float]
    cl: float
    mass: float | None = None
    xsec_scale: float | None = None  # yield -> cross section (1 / (eff * L)), if known

    @property
    def observed_xsec(self) -> float | None:
        return None if self.xsec_scale is None else self.observed * self.xsec_scale

    @property
    def expected_xsec(self) -> list[float] | None:
        return None if self.xsec_scale is None else [e * self.xsec_scale for e in self.expected]

    def to_dict(self) -> dict:
        return {
            "mass": self.mass,
            "cl": self.cl,
            "observed_yield": self.observed,
            "expected_yield": list(self.expected),
            "observed_xsec_fb": self.observed_xsec,
            "expected_xsec_fb": self.expected_xsec,
        }


def build_pyhf_model(
    background: np.ndarray,
    signal: np.ndarray,
    *,
    background_variations: Sequence[tuple[np.ndarray, np.ndarray]] = (),
    signal_variations: Sequence[tuple[np.ndarray, np.ndarray]] = (),
    poi_bound: float = 100.0,
) -> pyhf.pdf.Model:
    """A one-channel pyhf model: signal (POI ``mu``) + background with histosys variations."""
    bmods: list[dict] = [
        {"name": f"bkg_fit_{i}", "type": "histosys", "data": {"hi_data": list(hi), "lo_data": list(lo)}}
        for i, (hi, lo) in enumerate(background_variations)
    ]  # fmt: skip
    smods: list[dict] = [{"name": "mu", "type": "normfactor", "data": None}]
    smods += [
        {"name": f"sig_shape_{i}", "type": "histosys", "data": {"hi_data": list(hi), "lo_data": list(lo)}}
        for i, (hi, lo) in enumerate(signal_variations)
    ]  # fmt: skip
    spec = {
        "channels": [
            {
                "name": "mjj",
                "samples": [
                    {"name": "signal", "data": [float(v) for v in signal], "modifiers": smods},
                    {"name": "background", "data": [float(v) for v in background], "modifiers": bmods},
                ],
            }
        ],
        "parameters": [{"name": "mu", "bounds": [[0.0, poi_bound]]}],
    }  # fmt: skip
    return pyhf.Model(spec, poi_name="mu", validate=False)


def cls_upper_limit(
    counts: np.ndarray,
    background: np.ndarray,
    signal: np.ndarray,
    *,
    background_variations: Sequence[tuple[np.ndarray, np.ndarray]] = (),
    signal_variations: Sequence[tuple[np.ndarray, np.ndarray]] = (),
    cl: float = 0.95,
    calculator: str = "asymptotics",
    n_toys: int = 1000,
) -> LimitResult:
    """CLs upper limit on the signal yield for binned counts.

    ``signal`` is the expected signal per bin for a yield of one unit, so the
    result is in those units (events when ``signal`` holds bin fractions).
    Internally the signal is rescaled so that the POI limit is of order one, and
    the POI range is widened until it brackets the limit.
    """
    counts = np.asarray(counts, dtype=float)
    background = np.asarray(background, dtype=float)
    signal = np.asarray(signal, dtype=float)
    if np.any(background <= 0):
        raise StatsError("limit: the background must be > 0 in every bin")
    # reference yield ~ 3 x the Poisson scale of the background under the signal
    b_core = float(np.sum(background * signal) / max(np.sum(signal**2), 1e-300) * signal.sum())
    ref = 3.0 * math.sqrt(max(b_core, 1.0)) / max(float(signal.sum()), 1e-12) + 3.0
    ref = max(ref, 3.0 / max(float(signal.sum()), 1e-12))
    kwargs: dict = {"test_stat": "qtilde", "calctype": calculator}
    if calculator == "toybased":
        kwargs["ntoys"] = n_toys
    svar = [(hi * ref, lo * ref) for hi, lo in signal_variations]
    try:
        if calculator == "asymptotics":
            model = build_pyhf_model(
                background, signal * ref, background_variations=background_variations,
                signal_variations=svar, poi_bound=1e3,
            )  # fmt: skip
            obs, exp = _asymptotic_limits(list(counts) + model.config.auxdata, model, cl)
        else:
            obs, exp = _grid_limits(counts, background, signal * ref, background_variations,
                                    svar, cl, kwargs)  # fmt: skip
    except pyhf.exceptions.FailedMinimization as exc:
        # e.g. a near-empty selected spectrum: the limit is reported as failed, the
        # other results of the run stay
        raise StatsError(f"CLs limit: a pyhf fit did not converge ({exc})") from None
    if not all(np.isfinite([obs, *exp])):
        raise StatsError("CLs limit did not converge (non-finite upper limit)")
    return LimitResult(
        observed=float(obs) * ref,
        expected=tuple(e * ref for e in exp),  # type: ignore[arg-type]
        cl=cl,
    )


def _grid_limits(counts, background, signal, bvars, svars, cl, kwargs):
    """Limits from grids of pyhf hypotests (any calculator; used for toys)."""
    bound = 10.0
    for _ in range(8):
        model = build_pyhf_model(
            background, signal, background_variations=bvars,
            signal_variations=svars, poi_bound=bound,
        )  # fmt: skip
        data = list(counts) + model.config.auxdata
        obs, exp = _scan_limits(data, model, np.linspace(0.02 * bound, bound, 9), cl, kwargs)
        if max(obs, *exp) < 0.95 * bound:
            break
        bound *= 4.0
    # second pass: a fine grid bracketing the observed and all expected limits
    lo = max(0.005 * bound, 0.7 * min(obs, *exp) - 0.05 * bound)
    hi = min(bound, 1.3 * max(obs, *exp) + 0.05 * bound)
    return _scan_limits(data, model, np.linspace(lo, hi, 13), cl, kwargs)


class _CachedAsymptotics(calculators.AsymptoticCalculator):
    """pyhf's asymptotic calculator (qtilde) with the mu-independent fits done once.

    ``AsymptoticCalculator.teststatistic`` runs five fits per tested mu: the free
    fit to the data, the background-only fit that generates the Asimov data and
    the free fit to them do not depend on mu. Here they are run once, and only
    the two fixed-mu fits are repeated (warm-started from the previous mu), which
    gives the same test statistics as ``pyhf.infer.hypotest`` at 2/5 of the fits.
    """

    def __init__(self, data, pdf) -> None:
        super().__init__(data, pdf, test_stat="qtilde")
        args = (self.init_pars, self.par_bounds, self.fixed_params)
        self._free = mle.fit(data, pdf, *args, return_fitted_val=True)
        self.asimov = calculators.generate_asimov_data(0.0, data, pdf, *args)
        self._free_a = mle.fit(self.asimov, pdf, *args, return_fitted_val=True)
        self._warm = {"obs": self._free[0], "asimov": self._free_a[0]}
        self.mu_hat = float(self._free[0][pdf.config.poi_index])

    def _q(self, mu: float, which: str) -> float:
        data, (free_pars, free_val) = (
            (self.data, self._free) if which == "obs" else (self.asimov, self._free_a)
        )
        init = np.array(self._warm[which], dtype=float)
        init[self.pdf.config.poi_index] = mu
        pars, val = mle.fixed_poi_fit(
            mu, data, self.pdf, init.tolist(), self.par_bounds, self.fixed_params,
            return_fitted_val=True,
        )  # fmt: skip
        self._warm[which] = pars
        if float(free_pars[self.pdf.config.poi_index]) > mu:
            return 0.0
        return max(float(val) - float(free_val), 0.0)

    def teststatistic(self, poi_test):
        sqrtq = math.sqrt(self._q(float(poi_test), "obs"))
        self.sqrtqmuA_v = math.sqrt(self._q(float(poi_test), "asimov"))
        if sqrtq <= self.sqrtqmuA_v:
            return sqrtq - self.sqrtqmuA_v
        return (sqrtq**2 - self.sqrtqmuA_v**2) / (2 * self.sqrtqmuA_v)

    def cls(self, mu: float) -> tuple[float, list[float]]:
        """Observed CLs and the five expected CLs (-2..+2 sigma) at ``mu``, as hypotest."""
        ts = self.teststatistic(mu)
        sb, b = self.distributions(mu)
        _, _, cls_obs = self.pvalues(ts, sb, b)
        _, _, cls_exp = self.expected_pvalues(sb, b)
        return float(cls_obs), [float(v) for v in cls_exp]


def _asymptotic_limits(data, model, cl: float) -> tuple[float, list[float]]:
    """Observed and expected asymptotic CLs limits with few pyhf fits.

    The Asimov width sigma (from q_A at one mu) places the expected limits at
    sigma (Phi^-1(1 - alpha Phi(N)) + N) and the observed one near
    mu_hat + 2 sigma; a grid of 7 hypotests spans them and log CLs is
    interpolated with a monotone cubic, refined around each crossing.
    """
    calc = _CachedAsymptotics(data, model)
    alpha = 1.0 - cl
    mu1 = 1.0
    for _ in range(20):
        qa = calc._q(mu1, "asimov")
        if qa > 1.0:
            break
        mu1 *= 3.0
    sigma = mu1 / math.sqrt(max(qa, 1e-12))
    band = [sigma * (stats.norm.isf(alpha * stats.norm.cdf(n)) + n) for n in (-2, -1, 0, 1, 2)]
    obs_guess = max(calc.mu_hat, 0.0) + sigma * stats.norm.isf(alpha / 2)
    lo = 0.7 * min(band[0], obs_guess)
    hi = 1.25 * max(band[-1], obs_guess)
    pts: dict[float, tuple[float, list[float]]] = {}
    for mu in np.linspace(lo, hi, 7):
        pts[float(mu)] = calc.cls(float(mu))
    level = math.log(alpha)
    for _ in range(12):
        limits, missing = _crossings(pts, level)
        if not missing:
            break
        # extend the grid where a curve does not cross (rare: bad first guess)
        mus = sorted(pts)
        for mu in missing:
            pts[mu] = calc.cls(mu)
        if len(pts) == len(mus):
            break
    # one refinement point at each crossing, then interpolate again
    for mu in sorted(set(round(v, 6) for v in limits)):
        if min(abs(mu - m) for m in pts) > 1e-3 * mu:
            pts[float(mu)] = calc.cls(float(mu))
    limits, _ = _crossings(pts, level)
    return limits[0], limits[1:]


def _crossings(pts, level) -> tuple[list[float], list[float]]:
    """Where each log CLs curve (observed, then -2..+2 sigma expected) crosses ``level``.

    Returns (limits, extra mu values to evaluate when a curve is not bracketed).
    """
    mus = np.array(sorted(pts))
    curves = np.array([[pts[m][0], *pts[m][1]] for m in mus])  # (n_mu, 6)
    limits, missing = [], []
    for c in curves.T:
        lc = np.log(np.clip(c, 1e-300, None))
        below = np.nonzero(lc < level)[0]
        if below.size == 0:
            missing.append(float(mus[-1] * 1.6))
            limits.append(float(mus[-1]))
            continue
        j = int(below[0])
        if j == 0:
            missing.append(float(mus[0] * 0.5))
            limits.append(float(mus[0]))
            continue
        f = interpolate.PchipInterpolator(mus, lc - level)
        limits.append(float(optimize.brentq(f, mus[j - 1], mus[j], xtol=1e-9 * mus[j])))
    return limits, sorted(set(missing))


def _scan_limits(data, model, scan, cl, kwargs) -> tuple[float, list[float]]:
    """Observed and the five expected limits from one grid of pyhf hypotests.

    CLs falls roughly exponentially with mu, so the crossing of 1 - cl is found by
    linear interpolation of log CLs between grid points (more accurate than
    interpolating CLs itself); a curve that never crosses gives the grid end.
    """
    obs_cls, exp_cls = [], []
    for mu in scan:
        o, e = pyhf.infer.hypotest(float(mu), data, model, return_expected_set=True, **kwargs)
        obs_cls.append(float(o))
        exp_cls.append([float(v) for v in np.asarray(e).ravel()])
    curves = np.column_stack([obs_cls, np.array(exp_cls)])  # (n_mu, 6)
    level = math.log(1.0 - cl)
    limits = []
    for c in curves.T:
        lc = np.log(np.clip(c, 1e-300, None))
        below = np.nonzero(lc < level)[0]
        if below.size == 0:
            limits.append(float(scan[-1]))
            continue
        j = int(below[0])
        if j == 0:
            limits.append(float(scan[0]))
            continue
        x0, x1, y0, y1 = scan[j - 1], scan[j], lc[j - 1], lc[j]
        limits.append(float(x0 + (level - y0) * (x1 - x0) / (y1 - y0)))
    return limits[0], limits[1:]


def mass_limit(
    background: BackgroundFit,
    shape: SignalShape,
    *,
    mass: float | None = None,
    mass_scale_unc: float = 0.01,
    resolution_unc: float = 0.035,
    cl: float = 0.95,
    calculator: str = "asymptotics",
    n_toys: int = 1000,
    xsec_scale: float | None = None,
    window_sigmas: float = 4.0,
    max_bins: int = 40,
) -> LimitResult:
    """CLs limit on the total signal yield of ``shape`` on a fitted background.

    The fine bins within +-``window_sigmas`` signal widths are merged into at most
    ``max_bins`` bins; ``xsec_scale`` = 1 / (efficiency x luminosity) converts the
    yield to a cross section.
    """
    lo_fit, hi_fit = background.fit_range
    if not lo_fit < shape.mean < hi_fit:
        raise StatsError(
            f"mass hypothesis {shape.mean:.0f} GeV outside the fit range "
            f"[{lo_fit:.0f}, {hi_fit:.0f}] GeV"
        )
    edges = background.edges
    lo = max(shape.mean - window_sigmas * shape.sigma, lo_fit)
    hi = min(shape.mean + window_sigmas * shape.sigma, hi_fit)
    i0 = int(np.searchsorted(edges, lo, side="right") - 1)
    i1 = int(np.searchsorted(edges, hi, side="left"))
    i0, i1 = max(i0, 0), min(max(i1, i0 + 1), edges.size - 1)
    group = max(1, math.ceil((i1 - i0) / max_bins))
    idx = np.arange(i0, i1, group)
    wedges = np.append(edges[idx], edges[i1])
    counts = np.add.reduceat(background.counts[i0:i1], idx - i0)

    model = background.model_on(wedges)
    bnom, jac = model.expected_and_jacobian(background.theta)
    # N in theta is the count of the full fit range: rescale to this window
    frac = background.model
    full = frac.expected(background.theta)[i0:i1].sum()
    scale = full / bnom.sum()
    bnom, jac = bnom * scale, jac * scale
    evals, evecs = np.linalg.eigh(background.theta_cov)
    bvars = []
    for lam, vec in zip(evals, evecs.T, strict=True):
        if lam <= 0:
            continue
        delta = jac @ (math.sqrt(lam) * vec)
        if np.max(np.abs(delta) / bnom) < 1e-4:
            continue
        bvars.append((np.maximum(bnom + delta, 1e-9), np.maximum(bnom - delta, 1e-9)))
    sig = shape.bin_fractions(wedges)
    svars = []
    if mass_scale_unc > 0:
        svars.append((shape.varied(1 + mass_scale_unc).bin_fractions(wedges),
                      shape.varied(1 - mass_scale_unc).bin_fractions(wedges)))  # fmt: skip
    if resolution_unc > 0:
        svars.append((shape.varied(1, 1 + resolution_unc).bin_fractions(wedges),
                      shape.varied(1, 1 - resolution_unc).bin_fractions(wedges)))  # fmt: skip
    res = cls_upper_limit(
        counts, np.maximum(bnom, 1e-9), sig, background_variations=bvars,
        signal_variations=svars, cl=cl, calculator=calculator, n_toys=n_toys,
    )  # fmt: skip
    res.mass = float(shape.mean if mass is None else mass)
    res.xsec_scale = xsec_scale
    return res
