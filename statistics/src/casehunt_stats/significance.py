"""Local, expected and global significance of a resonance on the fitted background.

Test statistic q0 = -2 ln [L(s=0, theta_hat_hat) / L(s_hat, theta_hat)] with the
background parameters and the signal-shape nuisances (mass scale, resolution;
Gaussian constraints, CASE arXiv:2412.03747) profiled. Asymptotically
Z = sqrt(q0) (Cowan, Cranmer, Gross, Vitells, arXiv:1007.1727, Eq. 12); here the
sign of s_hat is kept (signed Z) and p = 1 - Phi(Z), which is uniform for
background-only data and equals the one-sided p-value of the paper for s_hat > 0.
The expected significance uses the Asimov dataset (same paper, Sec. 3.2).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from iminuit import Minuit
from scipy import stats

from .dijet import BackgroundFit, fisher_fit, poisson_nll
from .errors import StatsError
from .signal_shape import SignalModel, SignalShape

__all__ = [
    "GlobalSignificance",
    "ScanResult",
    "SignificanceResult",
    "counting_significance",
    "expected_significance",
    "fixed_background_significance",
    "global_significance",
    "local_significance",
    "significance_scan",
    "toy_p_error",
]


MU_FLOOR = 1e-6  # events; the s+b mean per fine bin never goes below this


def _z_from_q0(q0: float, s_hat: float) -> float:
    return math.copysign(math.sqrt(max(q0, 0.0)), s_hat) if s_hat != 0 else 0.0


def counting_significance(n: float, b: float) -> float:
    """Significance of ``n`` observed events on a known background ``b`` (one bin).

    Z = sqrt(2 (n ln(n/b) - (n - b))), signed; with n = s + b this is the Asimov
    formula sqrt(2((s+b) ln(1+s/b) - s)) (arXiv:1007.1727, Eq. 97).
    """
    if b <= 0:
        raise ValueError(f"background must be > 0, got {b}")
    q0 = 2.0 * ((n * math.log(n / b) if n > 0 else 0.0) - (n - b))
    return _z_from_q0(q0, n - b)


def fixed_background_significance(
    counts: np.ndarray, background: np.ndarray, template: np.ndarray
) -> tuple[float, float]:
    """Profile-likelihood significance of a signal ``s * template`` on a fixed background.

    Returns (signed Z, s_hat). For one bin this is :func:`counting_significance`.
    """
    n = np.asarray(counts, dtype=float)
    b = np.asarray(background, dtype=float)
    t = np.asarray(template, dtype=float)
    if np.any(b <= 0):
        raise ValueError("background must be > 0 in every bin")
    s_min = -0.999 * float(np.min(b[t > 0] / t[t > 0]))

    def nll(s: float) -> float:
        return poisson_nll(n, b + s * t)

    def grad(s: float) -> float:
        return float(np.sum(t * (1.0 - n / (b + s * t))))

    # dNLL/ds is increasing in s (convex NLL): bracket and bisect on the gradient
    lo, hi = s_min, max(1.0, 10.0 * float(n.sum()))
    if grad(lo) >= 0:
        s_hat = lo
    else:
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if grad(mid) > 0:
                hi = mid
            else:
                lo = mid
            if hi - lo < 1e-10 * max(1.0, abs(mid)):
                break
        s_hat = 0.5 * (lo + hi)
    q0 = 2.0 * (nll(0.0) - nll(s_hat))
    return _z_from_q0(q0, s_hat), s_hat


@dataclasses.dataclass
class SignificanceResult:
    """Local significance at one mass hypothesis."""

    mass: float
    z: float
    p_value: float
    q0: float
    signal_yield: float
    signal_yield_err: float
    theta_scale: float
    theta_resolution: float
    nll_b: float
    nll_sb: float
    log10_p_value: float = float("nan")
    fitted_mass: float = float("nan")

    def __post_init__(self) -> None:
        if not math.isfinite(self.log10_p_value):
            self.log10_p_value = float(stats.norm.logsf(self.z)) / math.log(10.0)

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in dataclasses.asdict(self).items()}  # fmt: skip


class SignalPlusBackground:
    """The s+b likelihood on a background fit's fine bins for one signal shape."""

    def __init__(
        self,
        background: BackgroundFit,
        shape: SignalShape,
        mass_scale_unc: float = 0.01,
        resolution_unc: float = 0.035,
    ) -> None:
        lo, hi = background.fit_range
        if not lo < shape.mean < hi:
            raise StatsError(
                f"mass hypothesis {shape.mean:g} outside the fit range [{lo:g}, {hi:g}]"
            )
        self.bkg = background
        # the background parameters are profiled in the conditioned basis (see dijet.py)
        self.tmat, self.model, self.theta_c = background.conditioned_fit()
        self.counts = background.counts
        self.shape = shape
        self.ds = mass_scale_unc
        self.dr = resolution_unc
        self.k = background.n_params
        b = background.expected_fine()
        t = shape.bin_fractions(background.edges)
        core = t > 1e-3 * t.max()
        # the signal may be negative, but never so negative that a bin's mean is < 0
        self.s_min = -0.9 * float(np.min(b[core] / t[core])) if core.any() else -1.0

    def template(self, th_s: float = 0.0, th_r: float = 0.0) -> np.ndarray:
        sh = self.shape.varied(1.0 + self.ds * th_s, 1.0 + self.dr * th_r)
        return sh.bin_fractions(self.bkg.edges)

    def nll(self, x: np.ndarray, counts: np.ndarray | None = None) -> float:
        k = self.k
        n = self.counts if counts is None else counts
        mu = self.model.expected(x[:k]) + x[k] * self.template(x[k + 1], x[k + 2])
        # a floor on the mean keeps the NLL and its gradient finite (and consistent)
        # when a negative signal with a shifted template digs below zero in a bin
        mu = np.maximum(mu, MU_FLOOR)
        return poisson_nll(n, mu) + 0.5 * (x[k + 1] ** 2 + x[k + 2] ** 2)

    def grad(self, x: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
        """Analytic gradient (background, yield); template derivatives by central differences."""
        k = self.k
        n = self.counts if counts is None else counts
        b, jac = self.model.expected_and_jacobian(x[:k])
        t = self.template(x[k + 1], x[k + 2])
        r = 1.0 - n / np.maximum(b + x[k] * t, MU_FLOOR)
        h = 1e-3
        dts = (self.template(x[k + 1] + h, x[k + 2]) - self.template(x[k + 1] - h, x[k + 2])) / (
            2 * h
        )
        dtr = (self.template(x[k + 1], x[k + 2] + h) - self.template(x[k + 1], x[k + 2] - h)) / (
            2 * h
        )
        g = np.empty(k + 3)
        g[:k] = r @ jac
        g[k] = r @ t
        g[k + 1] = x[k] * (r @ dts) + x[k + 1]
        g[k + 2] = x[k] * (r @ dtr) + x[k + 2]
        return g

    def fit(self, counts: np.ndarray | None = None, theta0: np.ndarray | None = None):
        """Minimise the s+b NLL; returns the Minuit object of the best of a few starts."""
        k = self.k
        n = self.counts if counts is None else counts
        th = self.theta_c if theta0 is None else theta0
        b = self.model.expected(th)
        t = self.template()
        s_guess = float(np.sum((n - b) * t) / max(np.sum(t * t), 1e-300))
        s_guess = min(max(s_guess, self.s_min * 0.5), 10.0 * n.sum())
        names = ["N"] + [f"c{j}" for j in range(1, k)] + ["s", "theta_scale", "theta_res"]
        total = max(float(n.sum()), 1.0)
        best = None
        for s0 in (0.0, s_guess):
            m = Minuit(
                lambda x: self.nll(x, n),
                np.concatenate([th, [s0, 0.0, 0.0]]),
                grad=lambda x: self.grad(x, n),
                name=names,
            )
            m.errordef = Minuit.LIKELIHOOD
            m.limits["N"] = (1e-9, None)
            m.limits["s"] = (self.s_min, None)
            m.limits["theta_scale"] = m.limits["theta_res"] = (-5.0, 5.0)
            m.errors = [math.sqrt(total)] + [1.0 / math.sqrt(total)] * (k - 1) + [
                math.sqrt(max(abs(s_guess), 1.0)) + 1.0, 0.5, 0.5]  # fmt: skip
            m.strategy = 1
            m.migrad(ncall=20000)
            if best is None or (m.valid and (not best.valid or m.fval < best.fval)):
                best = m
        return best


def local_significance(
    background: BackgroundFit,
    shape: SignalShape,
    *,
    mass: float | None = None,
    mass_scale_unc: float = 0.01,
    resolution_unc: float = 0.035,
) -> SignificanceResult:
    """Local significance of a signal with ``shape`` in the data of ``background``.

    ``background`` must be the background-only fit of the data (its NLL is the
    denominator); the s+b fit profiles the background and both shape nuisances.
    """
    sb = SignalPlusBackground(background, shape, mass_scale_unc, resolution_unc)
    m = sb.fit()
    nll_b = background.nll
    k = background.n_params
    if m.fval > nll_b + 1e-6:
        # the s+b fit should never be worse than b-only (nested): retry from b-only
        m.values["s"] = 0.0
        m.migrad()
    nll_sb = min(float(m.fval), nll_b)
    s_hat = float(m.values[k]) if m.fval <= nll_b else 0.0
    q0 = max(2.0 * (nll_b - nll_sb), 0.0)
    z = _z_from_q0(q0, s_hat)
    try:
        m.hesse()
        s_err = float(m.errors[k])
    except Exception:  # pragma: no cover - hesse failure only degrades the error
        s_err = float("nan")
    hyp = float(shape.mean if mass is None else mass)
    return SignificanceResult(
        mass=hyp,
        z=z,
        p_value=float(stats.norm.sf(z)),
        q0=q0,
        signal_yield=s_hat,
        signal_yield_err=s_err,
        theta_scale=float(m.values[k + 1]),
        theta_resolution=float(m.values[k + 2]),
        nll_b=nll_b,
        nll_sb=nll_sb,
        # where the profiled mass-scale nuisance moved the template: a strong peak
        # pulls the templates of neighbouring hypotheses onto itself (theta ~ +-3)
        fitted_mass=hyp * (1.0 + mass_scale_unc * float(m.values[k + 1])),
    )


def expected_significance(
    background: BackgroundFit,
    shape: SignalShape,
    signal_yield: float,
    *,
    profile: bool = True,
) -> float:
    """Median expected significance of ``signal_yield`` events (Asimov dataset).

    The Asimov data are the fitted background plus the signal; q0_A compares the
    best background-only fit to them (background parameters refitted when
    ``profile``, fixed otherwise) with the exact s+b value (arXiv:1007.1727, Eq. 24).
    """
    if signal_yield <= 0:
        return 0.0
    model = background.model
    b = model.expected(background.theta)
    asimov = b + signal_yield * shape.bin_fractions(background.edges)
    nll_sb = poisson_nll(asimov, asimov)
    if profile:
        th = background.theta.copy()
        th[0] += signal_yield * float(shape.bin_fractions(background.edges).sum())
        _, nll_b, _ = fisher_fit(model, asimov, th)
    else:
        nll_b = poisson_nll(asimov, b)
    return math.sqrt(max(2.0 * (nll_b - nll_sb), 0.0))


@dataclasses.dataclass
class ScanResult:
    """Local significances over mass hypotheses."""

    points: list[SignificanceResult]

    @property
    def masses(self) -> np.ndarray:
        return np.array([p.mass for p in self.points])

    @property
    def z(self) -> np.ndarray:
        return np.array([p.z for p in self.points])

    @property
    def max_point(self) -> SignificanceResult | None:
        return max(self.points, key=lambda p: p.z) if self.points else None

    def to_dict(self) -> dict:
        best = self.max_point
        return {
            "points": [p.to_dict() for p in self.points],
            "max_z": best.z if best else None,
            "max_z_mass": best.mass if best else None,
            "min_p_value": best.p_value if best else None,
            "min_log10_p_value": best.log10_p_value if best else None,
        }


def significance_scan(
    background: BackgroundFit,
    signal: SignalModel,
    masses: Sequence[float] | np.ndarray,
    *,
    mass_scale_unc: float = 0.01,
    resolution_unc: float = 0.035,
) -> ScanResult:
    """Local significance at every mass hypothesis (each must be inside the fit range)."""
    pts = [
        local_significance(
            background,
            signal.at(m),
            mass=m,
            mass_scale_unc=mass_scale_unc,
            resolution_unc=resolution_unc,
        )
        for m in masses
    ]
    return ScanResult(pts)


class FastScan:
    """Vectorised profile-likelihood scan for toys (no shape nuisances).

    Background-only: damped Fisher scoring from the generating parameters. Signal
    plus background at all masses at once: the background is linearised around
    its background-only fit (mu = b + J dtheta + s t_m), which is exact to second
    order in the small shift dtheta, and Fisher scoring is run for every mass in
    one batch of small linear solves. A toy with ~1000 bins and ~40 masses costs
    about a millisecond.
    """

    def __init__(self, background: BackgroundFit, shapes: Sequence[SignalShape]) -> None:
        self.bkg = background
        # the background parameters are profiled in the conditioned basis (see dijet.py)
        self.tmat, self.model, self.theta_c = background.conditioned_fit()
        self.templates = np.array([s.bin_fractions(background.edges) for s in shapes])
        self.mu_gen = self.model.expected(self.theta_c)

    def zvalues(self, counts: np.ndarray, n_iter: int = 8) -> np.ndarray:
        """Signed local Z at every mass for ``counts``."""
        return self.fit(counts, n_iter)[0]

    def fit(self, counts: np.ndarray, n_iter: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(signed Z, fitted signal yield, its Fisher-information error) at every mass."""
        theta_b, nll_b, _ = fisher_fit(self.model, counts, self.theta_c)
        mu_b, jac = self.model.expected_and_jacobian(theta_b)
        tm = self.templates  # (M, nb)
        n_m, k = tm.shape[0], jac.shape[1]
        # outer products J_bi J_bj: the (M, k, k) information block is one GEMM with the weights
        jj = (jac[:, :, None] * jac[:, None, :]).reshape(jac.shape[0], k * k)
        x = np.zeros((n_m, k + 1))  # (dtheta, s) per mass
        mu = np.broadcast_to(mu_b, tm.shape).copy()
        f = np.full(n_m, nll_b)
        for _ in range(n_iter):
            w = 1.0 / mu
            r = 1.0 - counts[None, :] * w  # dNLL/dmu
            g = np.concatenate([r @ jac, np.sum(r * tm, axis=1)[:, None]], axis=1)
            info = self._information(w, jac, jj)
            info += 1e-12 * np.eye(k + 1)[None]
            step = np.linalg.solve(info, -g[:, :, None])[:, :, 0]
            # step halving keeps every mean positive and the NLL non-increasing
            alpha = np.ones(n_m)
            for _ in range(12):
                xn = x + alpha[:, None] * step
                mun = mu_b[None] + xn[:, :k] @ jac.T + xn[:, k:] * tm
                ok = np.all(mun > 0, axis=1)
                fn = np.where(
                    ok,
                    np.sum(mun - counts[None] * np.log(np.where(mun > 0, mun, 1.0)), axis=1),
                    np.inf,
                )
                good = fn <= f + 1e-9
                if good.all():
                    break
                alpha = np.where(good, alpha, alpha * 0.25)
            upd = fn <= f + 1e-9
            x = np.where(upd[:, None], xn, x)
            mu = np.where(upd[:, None], mun, mu)
            f = np.where(upd, fn, f)
        q0 = np.maximum(2.0 * (nll_b - f), 0.0)
        info = self._information(1.0 / mu, jac, jj)
        s_err = np.sqrt(np.maximum(np.linalg.inv(info)[:, k, k], 0.0))
        return np.sign(x[:, k]) * np.sqrt(q0), x[:, k].copy(), s_err

    def _information(self, w: np.ndarray, jac: np.ndarray, jj: np.ndarray) -> np.ndarray:
        """Fisher information of (dtheta, s) per mass for weights w = 1/mu (M, nb)."""
        tm = self.templates
        n_m, k = tm.shape[0], jac.shape[1]
        wt = w * tm
        info = np.empty((n_m, k + 1, k + 1))
        info[:, :k, :k] = (w @ jj).reshape(n_m, k, k)
        info[:, :k, k] = info[:, k, :k] = wt @ jac
        info[:, k, k] = np.sum(wt * tm, axis=1)
        return info

    def toy(self, rng: np.random.Generator) -> np.ndarray:
        return rng.poisson(self.mu_gen).astype(float)


def toy_p_error(n_exceed: int, n_toys: int) -> float:
    """Standard deviation of a p-value estimated as ``n_exceed / n_toys`` from toys.

    The posterior of a binomial rate under a flat prior, Beta(k + 1, n - k + 1): the plain
    binomial error sqrt(p (1 - p) / n) for 0 << k << n, but not zero when no toy (or every
    toy) exceeds, where the plain error would claim the p-value exactly known.
    """
    if n_toys <= 0:
        return float("nan")
    k, n = int(n_exceed), int(n_toys)
    return math.sqrt((k + 1) * (n - k + 1) / ((n + 2) ** 2 * (n + 3)))


@dataclasses.dataclass
class GlobalSignificance:
    """Global significance from background-only toys (look-elsewhere effect)."""

    observed_max_z: float
    n_toys: int
    n_exceed: int
    p_value: float
    z: float
    toy_max_z: np.ndarray

    @property
    def p_err(self) -> float:
        """Toy error of ``p_value`` (:func:`toy_p_error`)."""
        return toy_p_error(self.n_exceed, self.n_toys)

    def global_p_at(self, local_z: float) -> float:
        """Global p-value a largest local excess of ``local_z`` would have in this search.

        The fraction of background-only toys whose maximum local Z reaches it; divided
        by the local p-value it is the trials factor of the look-elsewhere effect.
        """
        if not self.n_toys:
            return float("nan")
        return float(np.mean(self.toy_max_z >= local_z))

    def to_dict(self) -> dict:
        return {
            "observed_max_local_z": self.observed_max_z,
            "n_toys": self.n_toys,
            "n_exceed": self.n_exceed,
            "p_value": self.p_value,
            "p_err": self.p_err if self.n_toys else None,
            "z": self.z if math.isfinite(self.z) else None,
            "toy_max_z_quantiles": {
                str(q): float(np.quantile(self.toy_max_z, q)) for q in (0.5, 0.84, 0.975, 0.99)
            }
            if self.n_toys
            else None,
        }


def global_significance(
    hunts: Sequence[tuple[BackgroundFit, Sequence[SignalShape]]],
    n_toys: int = 1000,
    *,
    seed: int | np.random.Generator = 0,
) -> GlobalSignificance:
    """Global significance of the largest local excess over all selections and masses.

    ``hunts`` lists (background-only fit, signal shapes at the mass hypotheses)
    per selection. Toys are drawn independently per selection from its fitted
    background and the maximum local Z over every selection and mass is recorded;
    the observed maximum is computed with the same (fast) fitter so that toys and
    data are treated identically. p = fraction of toys with max Z >= observed
    (with p < 1/n_toys reported as 0.5/n_toys and Z from it).
    """
    if isinstance(hunts, tuple) and isinstance(hunts[0], BackgroundFit):
        hunts = [hunts]  # a single selection
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    scans = [FastScan(b, shapes) for b, shapes in hunts if len(shapes)]
    if not scans:
        raise StatsError("global significance needs at least one mass hypothesis")
    obs = max(float(np.max(s.zvalues(s.bkg.counts))) for s in scans)
    toy_max = np.empty(n_toys)
    for i in range(n_toys):
        toy_max[i] = max(float(np.max(s.zvalues(s.toy(rng)))) for s in scans)
    n_exceed = int(np.sum(toy_max >= obs))
    p = n_exceed / n_toys if n_toys else float("nan")
    p_for_z = p if n_exceed else (0.5 / n_toys if n_toys else float("nan"))
    z = float(stats.norm.isf(p_for_z)) if n_toys else float("nan")
    return GlobalSignificance(obs, n_toys, n_exceed, p, z, toy_max)
