"""Signal mjj shapes: double-sided Crystal Ball fits, mass interpolation, Gaussian fallback.

The double-sided Crystal Ball (DSCB) is a Gaussian core with power-law tails on
both sides (Oreglia 1980; the two-sided form used in CMS resonance searches and
in CASE, arXiv:2412.03747). Its CDF is analytic, so bin fractions are exact for
any binning. Between simulated masses the mean and width are interpolated by a
spline and the four tail parameters linearly, as CASE did.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np
from iminuit import Minuit
from scipy import interpolate, special

from .errors import FitError, StatsError

__all__ = ["SignalModel", "SignalShape"]

_SQRT_HALF_PI = math.sqrt(math.pi / 2.0)


def _tail_integral(alpha: float, n: float, u: np.ndarray | float) -> np.ndarray | float:
    """Integral of the (unnormalised) power-law tail from u = |t| - alpha (>= 0) to infinity.

    tail(t) = exp(-a^2/2) * r^n with r = (n/a) / (n/a + u); its integral from u to
    infinity is exp(-a^2/2) * (n/a) / (n-1) * r^(n-1). Written with r <= 1 so that
    nothing overflows for large n.
    """
    r = (n / alpha) / (n / alpha + u)
    return math.exp(-0.5 * alpha**2) * (n / alpha) / (n - 1.0) * r ** (n - 1.0)


@dataclasses.dataclass(frozen=True)
class SignalShape:
    """A DSCB (or Gaussian when ``alpha_l = alpha_r = inf``) mjj density in GeV.

    mean, sigma: core position and width; alpha_l/r: where the tails start in units
    of sigma; n_l/r: tail power (> 1).
    """

    mean: float
    sigma: float
    alpha_l: float = math.inf
    n_l: float = 10.0
    alpha_r: float = math.inf
    n_r: float = 10.0

    def __post_init__(self) -> None:
        if not (self.sigma > 0 and math.isfinite(self.mean)):
            raise ValueError(f"signal shape needs finite mean and sigma > 0, got {self}")
        if self.alpha_l <= 0 or self.alpha_r <= 0 or self.n_l <= 1 or self.n_r <= 1:
            raise ValueError(f"DSCB needs alpha > 0 and n > 1, got {self}")

    @property
    def kind(self) -> str:
        return "gaussian" if math.isinf(self.alpha_l) and math.isinf(self.alpha_r) else "dscb"

    @classmethod
    def gaussian(cls, mass: float, resolution: float = 0.05) -> SignalShape:
        """Gaussian fallback: width = ``resolution`` x mass."""
        return cls(mean=float(mass), sigma=float(resolution) * float(mass))

    def _norm(self) -> float:
        core = _SQRT_HALF_PI * (
            special.erf(min(self.alpha_r, 1e3) / math.sqrt(2))
            + special.erf(min(self.alpha_l, 1e3) / math.sqrt(2))
        )
        left = 0.0 if math.isinf(self.alpha_l) else _tail_integral(self.alpha_l, self.n_l, 0.0)
        right = 0.0 if math.isinf(self.alpha_r) else _tail_integral(self.alpha_r, self.n_r, 0.0)
        return self.sigma * (core + left + right)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Normalised density (per GeV)."""
        x = np.asarray(x, dtype=float)
        t = (np.atleast_1d(x) - self.mean) / self.sigma
        out = np.exp(-0.5 * t**2)
        if not math.isinf(self.alpha_l):
            a, n = self.alpha_l, self.n_l
            m = t < -a
            out[m] = math.exp(-0.5 * a * a) * ((n / a) / (n / a - a - t[m])) ** n
        if not math.isinf(self.alpha_r):
            a, n = self.alpha_r, self.n_r
            m = t > a
            out[m] = math.exp(-0.5 * a * a) * ((n / a) / (n / a - a + t[m])) ** n
        out = out / self._norm()
        return out.reshape(x.shape) if x.ndim else out[0]

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """Analytic cumulative distribution."""
        t = (np.atleast_1d(np.asarray(x, dtype=float)) - self.mean) / self.sigma
        al = min(self.alpha_l, 1e3)
        ar = min(self.alpha_r, 1e3)
        left_total = 0.0 if math.isinf(self.alpha_l) else _tail_integral(al, self.n_l, 0.0)
        out = np.empty_like(t)
        lo = t < -al
        hi = t > ar
        mid = ~(lo | hi)
        if lo.any():
            out[lo] = _tail_integral(al, self.n_l, -al - t[lo])
        out[mid] = left_total + _SQRT_HALF_PI * (
            special.erf(t[mid] / math.sqrt(2)) + special.erf(al / math.sqrt(2))
        )
        if hi.any():
            core = _SQRT_HALF_PI * (special.erf(ar / math.sqrt(2)) + special.erf(al / math.sqrt(2)))
            right_total = _tail_integral(ar, self.n_r, 0.0)
            out[hi] = left_total + core + right_total - _tail_integral(ar, self.n_r, t[hi] - ar)
        return np.clip(out * self.sigma / self._norm(), 0.0, 1.0)

    def bin_fractions(self, edges: np.ndarray) -> np.ndarray:
        """Fraction of the signal in each bin (exact, from the CDF)."""
        return np.diff(self.cdf(np.asarray(edges, dtype=float)))

    def varied(self, scale: float = 1.0, width: float = 1.0) -> SignalShape:
        """The shape with its mean times ``scale`` and its width times ``width``."""
        return dataclasses.replace(self, mean=self.mean * scale, sigma=self.sigma * width)

    def to_dict(self) -> dict[str, float | str | None]:
        def fin(v: float) -> float | None:
            return None if math.isinf(v) else float(v)

        return {
            "kind": self.kind,
            "mean": self.mean,
            "sigma": self.sigma,
            "alpha_l": fin(self.alpha_l),
            "n_l": self.n_l,
            "alpha_r": fin(self.alpha_r),
            "n_r": self.n_r,
        }

    @classmethod
    def fit(cls, mjj: np.ndarray, n_bins: int = 400) -> SignalShape:
        """Fit a DSCB to a signal mjj sample (binned multinomial likelihood, exact CDF bins).

        The histogram spans the sample's 0.05%-99.95% quantiles, within 10 robust widths
        (1.4826 x the median absolute deviation) of the median; the model is normalised
        inside that window, so far outliers do not drive the tails. The robust width
        also keeps a second, distant component out (in a jet mass: signal events whose
        jet lost the resonance's decay products), which would else take the core.
        """
        mjj = np.asarray(mjj, dtype=float)
        mjj = mjj[np.isfinite(mjj)]
        if mjj.size < 50:
            raise StatsError(f"signal sample too small for a DSCB fit ({mjj.size} events)")
        med = float(np.median(mjj))
        width = max(1.4826 * float(np.median(np.abs(mjj - med))), 1e-3 * abs(med) + 1e-6)
        lo, hi = np.quantile(mjj, [0.0005, 0.9995])
        lo, hi = max(float(lo), med - 10 * width), min(float(hi), med + 10 * width)
        counts, edges = np.histogram(mjj, bins=n_bins, range=(lo, hi))

        def nll(mean, sigma, alpha_l, n_l, alpha_r, n_r):
            try:
                shape = cls(mean, sigma, alpha_l, n_l, alpha_r, n_r)
            except ValueError:
                return 1e30
            frac = shape.bin_fractions(edges)
            frac = frac / max(frac.sum(), 1e-300)
            return float(-np.sum(counts * np.log(np.maximum(frac, 1e-300))))

        best = None
        for a0, n0 in ((1.5, 5.0), (1.0, 10.0), (2.5, 3.0)):
            m = Minuit(nll, mean=med, sigma=width, alpha_l=a0, n_l=n0, alpha_r=a0, n_r=n0)
            m.errordef = Minuit.LIKELIHOOD
            m.limits["mean"] = (lo, hi)
            m.limits["sigma"] = (1e-3 * width, 10 * width)
            m.limits["alpha_l"] = m.limits["alpha_r"] = (0.2, 8.0)
            m.limits["n_l"] = m.limits["n_r"] = (1.05, 150.0)
            m.migrad(ncall=5000)
            if m.valid and (best is None or m.fval < best.fval):
                best = m
        if best is None:
            raise FitError(f"DSCB fit to {mjj.size} signal events did not converge")
        return cls(*(float(v) for v in best.values))


class SignalModel:
    """Signal shapes at any mass: interpolated DSCB fits, or the Gaussian fallback.

    Mean/mass and sigma/mass are interpolated by a cubic spline (linear for two
    points, constant for one), the tail parameters linearly; outside the simulated
    masses the ratios and tails are held at their end values.
    """

    def __init__(
        self, shapes: Mapping[float, SignalShape] | None = None, resolution: float = 0.05
    ) -> None:
        self.resolution = float(resolution)
        self.shapes = dict(sorted((float(k), v) for k, v in (shapes or {}).items()))
        masses = np.array(list(self.shapes), dtype=float)
        self._masses = masses
        if masses.size:
            sh = list(self.shapes.values())
            self._mean_r = np.array([s.mean for s in sh]) / masses
            self._sig_r = np.array([s.sigma for s in sh]) / masses
            tails = np.array([[s.alpha_l, s.n_l, s.alpha_r, s.n_r] for s in sh])
            self._tails = np.where(np.isfinite(tails), tails, 1e3)
            if masses.size >= 3:
                self._spl_mean = interpolate.CubicSpline(masses, self._mean_r)
                self._spl_sig = interpolate.CubicSpline(masses, self._sig_r)

    @property
    def kind(self) -> str:
        return "dscb" if self.shapes else "gaussian"

    @classmethod
    def from_samples(
        cls, samples: Mapping[float, np.ndarray], resolution: float = 0.05
    ) -> SignalModel:
        """Fit a DSCB at every simulated mass (``{mass: mjj array}``)."""
        return cls({float(m): SignalShape.fit(v) for m, v in samples.items()}, resolution)

    def at(self, mass: float) -> SignalShape:
        """The signal shape for a resonance of ``mass`` GeV."""
        mass = float(mass)
        if not self._masses.size:
            return SignalShape.gaussian(mass, self.resolution)
        ms = self._masses
        mc = min(max(mass, ms[0]), ms[-1])
        if ms.size >= 3:
            mean_r, sig_r = float(self._spl_mean(mc)), float(self._spl_sig(mc))
        else:
            mean_r = float(np.interp(mc, ms, self._mean_r))
            sig_r = float(np.interp(mc, ms, self._sig_r))
        tails = [float(np.interp(mc, ms, self._tails[:, j])) for j in range(4)]
        tails = [math.inf if t >= 1e3 - 1e-9 else t for t in tails]
        return SignalShape(mean_r * mass, max(sig_r, 1e-4) * mass, *tails)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "resolution": self.resolution,
            "shapes": {str(round(float(m))): s.to_dict() for m, s in self.shapes.items()},
        }
