"""The background functions and their binned Poisson likelihood fit.

Two families (``family``), both densities in events per unit of the resonant feature m:

* ``"dijet"``, the CMS dijet function (the default, for mjj):
  f(x) = p0 (1-x)^p1 / x^(p2 + p3 ln x + p4 ln^2 x),  x = m / sqrt(s)
  (CMS dijet searches, e.g. arXiv:1911.03947; CASE arXiv:2412.03747, Sec. 6);
* ``"exppoly"``, the exponential of a polynomial, for any other feature (e.g. a jet mass):
  f(x) = p0 exp(p1 x + p2 x^2 + ... + p_{k-1} x^{k-1}),  x = (m - lo) / (hi - lo)
  with [lo, hi] the fit range, so x is in [0, 1] (the "exponential of a second-order
  polynomial" of the ATLAS H -> gamma gamma background models, arXiv:1408.7084, Sec. 5,
  taken to higher orders; the orders are chosen by the same F-test).

Numerics: the fit does not use p0 directly. The parameters are
theta = (N, p1, ..., p_{k-1}) with N the total predicted count in the fit range,
so that the normalisation sits near the observed total and is decoupled from
the shape; p0 follows from N. The function is integrated over every fine bin
with Simpson's rule, and the log of the shape is shifted by its maximum before
exponentiation so that no overflow occurs for any parameter value.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from iminuit import Minuit
from scipy import stats

from .errors import FitError, StatsError

__all__ = [
    "DIJET_BIN_EDGES",
    "FAMILIES",
    "BackgroundFit",
    "DijetModel",
    "bin_events",
    "chi2_binning",
    "dijet_function",
    "exppoly_function",
    "fit_background",
    "fit_binned",
    "integrate_dijet",
]

SQRT_S = 13000.0

# CMS dijet mass bin edges (GeV) used for the chi2 and the plots (REFERENCES.md).
DIJET_BIN_EDGES = np.array(
    [1460, 1530, 1607, 1687, 1770, 1856, 1945, 2037, 2132, 2231, 2332, 2438, 2546, 2659,
     2775, 2895, 3019, 3147, 3279, 3416, 3558, 3704, 3854, 4010, 4171, 4337, 4509, 4700,
     4900, 5100, 5300, 5500, 5800, 6100, 6400, 6800],
    dtype=float,
)  # fmt: skip

PARAM_NAMES = ("p0", "p1", "p2", "p3", "p4")

#: The background families and the numbers of parameters each allows (smallest first).
FAMILIES: dict[str, tuple[int, ...]] = {"dijet": (3, 4, 5), "exppoly": (2, 3, 4, 5, 6)}

#: Width of the chi2 bins of an exppoly fit, in fine bins, when none is given.
EXPPOLY_CHI2_FINE_BINS = 5


def _basis(x: np.ndarray, k: int) -> np.ndarray:
    """d log f / d p_j for j = 1..k-1: ln(1-x), -ln x, -ln^2 x, -ln^3 x."""
    lx = np.log(x)
    cols = [np.log1p(-x), -lx, -(lx**2), -(lx**3)]
    return np.stack(cols[: k - 1], axis=-1)


def _check_family(family: str, n_params: int | None = None) -> None:
    if family not in FAMILIES:
        raise ValueError(f"background family must be one of {', '.join(FAMILIES)}, got {family!r}")
    if n_params is not None and n_params not in FAMILIES[family]:
        allowed = ", ".join(map(str, FAMILIES[family]))
        raise ValueError(f"the {family} function takes {allowed} parameters, got {n_params}")


def _log_basis(
    m: np.ndarray | float, k: int, family: str, sqrt_s: float, x_range: tuple[float, float]
) -> np.ndarray:
    """d log f / d p_j (j = 1..k-1) at the feature values ``m`` for either family."""
    m = np.asarray(m, dtype=float)
    if family == "dijet":
        return _basis(m / sqrt_s, k)
    t = (m - x_range[0]) / (x_range[1] - x_range[0])
    return np.stack([t**j for j in range(1, k)], axis=-1)


def exppoly_function(
    m: np.ndarray | float, params: Sequence[float] | np.ndarray, x_range: tuple[float, float]
) -> np.ndarray:
    """p0 exp(p1 x + ... + p_{k-1} x^{k-1}), x = (m - lo) / (hi - lo), per unit of m."""
    p = np.asarray(params, dtype=float)
    _check_family("exppoly", p.size)
    logf = _log_basis(m, p.size, "exppoly", SQRT_S, x_range) @ p[1:]
    return p[0] * np.exp(logf)


def _check_params(params: Sequence[float] | np.ndarray) -> np.ndarray:
    p = np.asarray(params, dtype=float)
    if p.ndim != 1 or not 3 <= p.size <= 5:
        raise ValueError(f"the dijet function takes 3, 4 or 5 parameters, got {p.size}")
    return p


def dijet_function(
    mjj: np.ndarray | float, params: Sequence[float] | np.ndarray, sqrt_s: float = SQRT_S
) -> np.ndarray:
    """The CMS dijet function in events per GeV at ``mjj`` (GeV); 3 to 5 parameters."""
    p = _check_params(params)
    x = np.asarray(mjj, dtype=float) / sqrt_s
    logf = _basis(x, p.size) @ p[1:]
    return p[0] * np.exp(logf)


def _simpson_nodes(edges: np.ndarray, max_step: float | None = None):
    """Nodes and weights of composite Simpson integration over every bin.

    Each bin is split into ``m`` equal sub-intervals (m >= 1, width <= max_step);
    returns (nodes, weight matrix as (bin index, node slice)) in a compact form:
    nodes (P,), weights (P,), bin_of_node boundaries for np.add.reduceat.
    """
    widths = np.diff(edges)
    if max_step is None:
        m = np.ones(widths.size, dtype=int)
    else:
        m = np.maximum(1, np.ceil(widths / max_step - 1e-9).astype(int))
    nodes, weights, starts = [], [], []
    pos = 0
    for lo, w, mi in zip(edges[:-1], widths, m, strict=True):
        h = w / mi
        t = lo + h * np.arange(2 * mi + 1) / 2.0
        wt = np.empty(2 * mi + 1)
        wt[0::2] = 2.0
        wt[1::2] = 4.0
        wt[0] = wt[-1] = 1.0
        nodes.append(t)
        weights.append(wt * h / 6.0)
        starts.append(pos)
        pos += t.size
    return np.concatenate(nodes), np.concatenate(weights), np.array(starts)


class DijetModel:
    """Expected counts of a background function in fixed bins, theta = (N, p1, ...).

    ``family`` is ``"dijet"`` (default) or ``"exppoly"``; the exppoly variable x is
    scaled over ``x_range`` (default: these bins), which must be the fit range of the
    parameters when the model is evaluated in other bins (a window, a wider range).

    With ``transform`` T the shape parameters are c with (p1, ...) = T c (see
    :func:`conditioning_transform`); the fits use this to be well conditioned.

    Fast path for fits: for equal-width fine bins the Simpson nodes are shared
    between neighbouring bins (2 n + 1 function evaluations for n bins).
    """

    def __init__(
        self,
        edges: np.ndarray,
        n_params: int,
        sqrt_s: float = SQRT_S,
        transform: np.ndarray | None = None,
        *,
        family: str = "dijet",
        x_range: tuple[float, float] | None = None,
    ) -> None:
        _check_family(family, n_params)
        self.edges = np.asarray(edges, dtype=float)
        if self.edges.ndim != 1 or self.edges.size < 2 or np.any(np.diff(self.edges) <= 0):
            raise ValueError("bin edges must be increasing with at least one bin")
        if family == "dijet" and (self.edges[0] <= 0 or self.edges[-1] >= sqrt_s):
            raise ValueError(f"bin edges must lie inside (0, sqrt_s={sqrt_s}) GeV")
        self.n_params = n_params
        self.sqrt_s = float(sqrt_s)
        self.family = family
        self.x_range: tuple[float, float] = (
            (float(self.edges[0]), float(self.edges[-1]))
            if x_range is None
            else (float(x_range[0]), float(x_range[1]))
        )
        e = self.edges
        mids = 0.5 * (e[:-1] + e[1:])
        # nodes: e0, m0, e1, m1, ..., e_n  (shared edges)
        self._nodes = np.empty(2 * e.size - 1)
        self._nodes[0::2] = e
        self._nodes[1::2] = mids
        self._h6 = np.diff(e) / 6.0
        self._G = _log_basis(self._nodes, n_params, family, self.sqrt_s, self.x_range)
        # optional linear reparametrisation of the shape: p[1:] = transform @ c
        self.transform = None if transform is None else np.asarray(transform, dtype=float)
        if self.transform is not None:
            self._G = self._G @ self.transform

    @property
    def n_bins(self) -> int:
        return self.edges.size - 1

    def _bin_sums(self, v: np.ndarray) -> np.ndarray:
        """Simpson sums per bin of node values ``v`` (nodes on axis 0)."""
        h = self._h6.reshape((-1,) + (1,) * (v.ndim - 1))
        return h * (v[0:-1:2] + 4.0 * v[1::2] + v[2::2])

    def _shape(self, shape: np.ndarray) -> tuple[np.ndarray, float]:
        logf = self._G @ shape
        c = float(np.max(logf))
        return np.exp(logf - c), c

    def expected(self, theta: np.ndarray) -> np.ndarray:
        """Expected counts per bin for theta = (N, p1, ..., p_{k-1})."""
        f, _ = self._shape(np.asarray(theta[1:], dtype=float))
        integ = self._bin_sums(f)
        return theta[0] * integ / integ.sum()

    def expected_and_jacobian(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expected counts and their derivatives d mu_i / d theta_j (analytic)."""
        theta = np.asarray(theta, dtype=float)
        f, _ = self._shape(theta[1:])
        integ = self._bin_sums(f)
        s = integ.sum()
        dinteg = self._bin_sums(f[:, None] * self._G)  # (nb, k-1)
        ds = dinteg.sum(axis=0)
        frac = integ / s
        jac = np.empty((integ.size, theta.size))
        jac[:, 0] = frac
        jac[:, 1:] = theta[0] * (dinteg - frac[:, None] * ds[None, :]) / s
        return theta[0] * frac, jac

    def log_p0(self, theta: np.ndarray) -> float:
        """log p0 of the dijet function for theta (N is the count in these bins)."""
        f, c = self._shape(np.asarray(theta[1:], dtype=float))
        return math.log(theta[0]) - math.log(self._bin_sums(f).sum()) - c

    def dlog_p0(self, theta: np.ndarray) -> np.ndarray:
        """Gradient of log p0 with respect to theta."""
        f, _ = self._shape(np.asarray(theta[1:], dtype=float))
        integ = self._bin_sums(f)
        dinteg = self._bin_sums(f[:, None] * self._G)
        g = np.empty(theta.size)
        g[0] = 1.0 / theta[0]
        g[1:] = -dinteg.sum(axis=0) / integ.sum()
        return g


def integrate_dijet(
    edges: np.ndarray,
    params: Sequence[float] | np.ndarray,
    sqrt_s: float = SQRT_S,
    max_step: float = 4.0,
) -> np.ndarray:
    """Integral of the dijet function over each bin (composite Simpson, steps <= max_step)."""
    p = _check_params(params)
    edges = np.asarray(edges, dtype=float)
    nodes, w, starts = _simpson_nodes(edges, max_step)
    logf = _basis(nodes / sqrt_s, p.size) @ p[1:]
    return p[0] * np.add.reduceat(w * np.exp(logf), starts)


def bin_events(
    mjj: np.ndarray, fit_range: tuple[float, float], bin_width: float
) -> tuple[np.ndarray, np.ndarray]:
    """Histogram events in fine bins of ``bin_width`` covering ``fit_range``.

    The upper edge is moved down to a whole number of bins from the lower edge.
    """
    lo, hi = float(fit_range[0]), float(fit_range[1])
    n = math.floor((hi - lo) / bin_width + 1e-9)
    if n < 1:
        raise StatsError(f"fit range {fit_range} is narrower than one bin of {bin_width} GeV")
    edges = lo + bin_width * np.arange(n + 1)
    counts, _ = np.histogram(np.asarray(mjj, dtype=float), bins=edges)
    return counts.astype(float), edges


def chi2_binning(
    fit_range: tuple[float, float],
    fine_edges: np.ndarray | None = None,
    width: float | None = None,
) -> np.ndarray:
    """The chi2 (and plot) bins: CMS dijet bin edges, or uniform bins of ``width``.

    The CMS edges are clipped to (and extended over) the fit range, beyond 6800 GeV
    in 400 GeV steps; uniform bins start at the lower edge of the range. Edges are
    snapped to the fine likelihood bins when those are given so that observed counts
    are exact.
    """
    lo, hi = fit_range
    if width is not None:
        inner = list(lo + width * np.arange(1, math.ceil((hi - lo) / width - 1e-9)))
    else:
        ext = list(DIJET_BIN_EDGES)
        while ext[-1] < hi:
            ext.append(ext[-1] + 400.0)
        inner = [e for e in ext if lo < e < hi]
    edges = np.array([lo, *inner, hi], dtype=float)
    if fine_edges is not None:
        idx = np.unique(np.searchsorted(fine_edges, edges).clip(0, fine_edges.size - 1))
        edges = fine_edges[idx]
    # drop slivers narrower than a quarter of their neighbour at either end
    if edges.size > 3 and (edges[1] - edges[0]) < 0.25 * (edges[2] - edges[1]):
        edges = np.delete(edges, 1)
    if edges.size > 3 and (edges[-1] - edges[-2]) < 0.25 * (edges[-2] - edges[-3]):
        edges = np.delete(edges, -2)
    return edges


def _merge_low_counts(obs: np.ndarray, exp: np.ndarray, min_count: float = 5.0):
    """Merge neighbouring bins until each holds at least ``min_count`` observed events."""
    groups_o, groups_e, cur_o, cur_e = [], [], 0.0, 0.0
    for o, e in zip(obs, exp, strict=True):
        cur_o += o
        cur_e += e
        if cur_o >= min_count:
            groups_o.append(cur_o)
            groups_e.append(cur_e)
            cur_o = cur_e = 0.0
    if cur_o > 0 or cur_e > 0:
        if groups_o:
            groups_o[-1] += cur_o
            groups_e[-1] += cur_e
        else:
            groups_o.append(cur_o)
            groups_e.append(cur_e)
    return np.array(groups_o), np.array(groups_e)


def poisson_nll(counts: np.ndarray, mu: np.ndarray) -> float:
    """-ln L of independent Poisson bins, without the constant ln n! term."""
    mu = np.maximum(mu, 1e-300)
    return float(np.sum(mu - counts * np.log(mu)))


@dataclasses.dataclass
class BackgroundFit:
    """Result of a background fit (the dijet function or the exponential polynomial).

    ``params`` are (p0, p1, ...) of :func:`dijet_function` or :func:`exppoly_function`
    (events per unit of the feature; exppoly's x is scaled over ``fit_range``);
    ``theta`` = (N, p1, ...) are the fitted parameters with ``theta_cov``;
    ``chi2_bin_width`` None means the CMS dijet bins for the chi2 and the plots.
    """

    n_params: int
    params: np.ndarray
    errors: np.ndarray
    covariance: np.ndarray
    theta: np.ndarray
    theta_cov: np.ndarray
    nll: float
    chi2: float
    ndof: int
    fit_range: tuple[float, float]
    sqrt_s: float
    edges: np.ndarray
    counts: np.ndarray
    converged: bool = True
    family: str = "dijet"
    chi2_bin_width: float | None = None

    @property
    def chi2_pvalue(self) -> float:
        return float(stats.chi2.sf(self.chi2, self.ndof)) if self.ndof > 0 else float("nan")

    @property
    def model(self) -> DijetModel:
        return self.model_on(self.edges)

    def model_on(self, edges: np.ndarray, transform: np.ndarray | None = None) -> DijetModel:
        """This fit's function in other bins (x of exppoly still scaled over the fit range)."""
        return DijetModel(
            edges, self.n_params, self.sqrt_s, transform, family=self.family, x_range=self.fit_range
        )

    def conditioned_model(self) -> tuple[np.ndarray, DijetModel]:
        """(T, model in conditioned parameters c, p[1:] = T c) on the fine fit bins."""
        tmat = conditioning_transform(
            self.counts, self.edges, self.n_params, self.sqrt_s, family=self.family
        )
        return tmat, self.model_on(self.edges, tmat)

    def conditioned_fit(self) -> tuple[np.ndarray, DijetModel, np.ndarray]:
        """(T, model, fitted parameters) in the conditioned basis of :meth:`conditioned_model`,
        where toys and profiles are fitted."""
        tmat, model = self.conditioned_model()
        return tmat, model, np.concatenate([self.theta[:1], np.linalg.solve(tmat, self.theta[1:])])

    def _log_f(self, m: np.ndarray, theta: np.ndarray) -> np.ndarray:
        g = _log_basis(m, self.n_params, self.family, self.sqrt_s, self.fit_range)
        return g @ theta[1:] + self.model.log_p0(theta)

    @property
    def log_p0(self) -> float:
        """ln p0 (finite also where p0 itself overflows, for extreme shapes)."""
        return self.model.log_p0(self.theta)

    def _counts_in(self, edges: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Expected counts in ``edges`` for theta = (N, p1, ...), in log space (no overflow)."""
        step = 4.0 if self.family == "dijet" else float(self.edges[1] - self.edges[0])
        nodes, w, starts = _simpson_nodes(edges, step)
        return np.add.reduceat(w * np.exp(self._log_f(nodes, theta)), starts)

    def expected(self, edges: np.ndarray) -> np.ndarray:
        """Expected background counts in arbitrary bins (may extrapolate)."""
        return self._counts_in(np.asarray(edges, dtype=float), self.theta)

    def expected_fine(self) -> np.ndarray:
        """Expected counts in the fine fit bins."""
        return self.model.expected(self.theta)

    def _propagate(self, fun) -> np.ndarray:
        """Linear error propagation of ``fun(theta)`` with theta_cov, along its eigenvectors.

        The dijet parameters are nearly collinear, so derivatives along single
        parameters are ill conditioned; along the covariance eigenvectors (steps of
        1e-3 of each standard deviation) they are not.
        """
        lam, vec = np.linalg.eigh(self.theta_cov)
        var = 0.0
        for lj, vj in zip(lam, vec.T, strict=True):
            if lj <= 0:
                continue
            h = 1e-3 * math.sqrt(lj)
            d = (fun(self.theta + h * vj) - fun(self.theta - h * vj)) / (2e-3)
            var = var + d**2
        return np.sqrt(var)

    def uncertainty(self, edges: np.ndarray) -> np.ndarray:
        """1-sigma uncertainty of the expected counts in ``edges`` from the fit covariance."""
        edges = np.asarray(edges, dtype=float)
        return self._propagate(lambda t: self._counts_in(edges, t))

    def rel_uncertainty_at(self, mass: float) -> float:
        """Relative 1-sigma uncertainty of the fitted function at ``mass`` (F-test cap)."""
        m = np.array([float(mass)])
        # d f / f = d log f
        return float(self._propagate(lambda t: self._log_f(m, t))[0])

    def chi2_table(self) -> dict[str, list[float]]:
        """Observed, expected and pulls on the chi2 bins (for plots and JSON)."""
        cedges = chi2_binning(self.fit_range, self.edges, self.chi2_bin_width)
        idx = np.searchsorted(self.edges, cedges)
        obs = np.add.reduceat(self.counts, idx[:-1])
        exp = np.add.reduceat(self.expected_fine(), idx[:-1])
        unc = self.uncertainty(cedges)
        pulls = np.where(exp > 0, (obs - exp) / np.sqrt(np.maximum(exp, 1e-300)), 0.0)
        return {
            "edges": cedges.tolist(),
            "observed": obs.tolist(),
            "expected": exp.tolist(),
            "expected_unc": unc.tolist(),
            "pulls": pulls.tolist(),
        }

    def to_dict(self) -> dict:
        return {
            "n_params": self.n_params,
            "params": self.params.tolist(),
            "log_p0": self.log_p0,
            "errors": self.errors.tolist(),
            "covariance": self.covariance.tolist(),
            "nll": self.nll,
            "chi2": self.chi2,
            "ndof": self.ndof,
            "chi2_pvalue": _finite_or_none(self.chi2_pvalue),
            "fit_range": list(self.fit_range),
            "sqrt_s": self.sqrt_s,
            "n_events": float(self.counts.sum()),
            "converged": self.converged,
            "background": self.family,
            "chi2_bin_width": self.chi2_bin_width,
        }


def _finite_or_none(v: float) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def _chi2_ndof(
    counts: np.ndarray,
    edges: np.ndarray,
    mu: np.ndarray,
    fit_range,
    n_params: int,
    width: float | None = None,
) -> tuple[float, int]:
    """Pearson chi2 on the chi2 bins after merging bins with < 5 events (CASE)."""
    cedges = chi2_binning(fit_range, edges, width)
    idx = np.searchsorted(edges, cedges)
    obs = np.add.reduceat(counts, idx[:-1])
    exp = np.add.reduceat(mu, idx[:-1])
    o, e = _merge_low_counts(obs, exp)
    chi2 = float(np.sum((o - e) ** 2 / np.maximum(e, 1e-300)))
    return chi2, int(o.size - n_params)


def _start_values(
    counts: np.ndarray, edges: np.ndarray, n_params: int, sqrt_s: float, family: str = "dijet"
):
    """Starting shape parameters from a weighted linear fit of log(density).

    log f is linear in (ln p0, p1, ..., p4), so a least-squares fit to the log of
    coarse-binned densities gives good starting values for every n_params.
    """
    if family == "dijet":
        group = max(1, round(50.0 / max(edges[1] - edges[0], 1e-9)))
    else:  # about 25 coarse bins over the range, in whatever unit the feature has
        group = max(1, counts.size // 25)
    idx = np.arange(0, counts.size, group)
    c = np.add.reduceat(counts, idx)
    lo = edges[idx]
    hi = np.append(edges[idx[1:]], edges[-1])
    ok = c > 0
    if ok.sum() < n_params + 1:
        return None
    mids = 0.5 * (lo + hi)[ok]
    y = np.log(c[ok] / (hi - lo)[ok])
    g = _log_basis(mids, n_params, family, sqrt_s, (float(edges[0]), float(edges[-1])))
    a = np.column_stack([np.ones(mids.size), g])
    w = np.sqrt(c[ok])
    try:
        sol, *_ = np.linalg.lstsq(a * w[:, None], y * w, rcond=None)
    except np.linalg.LinAlgError:
        return None
    return sol[1:] if np.all(np.isfinite(sol)) else None


def conditioning_transform(
    counts: np.ndarray,
    edges: np.ndarray,
    n_params: int,
    sqrt_s: float = SQRT_S,
    *,
    family: str = "dijet",
) -> np.ndarray:
    """T such that shape parameters c with (p1, ..., p_{k-1}) = T c are well conditioned.

    The basis ln(1-x), -ln x, -ln^2 x, -ln^3 x is nearly collinear over a fit
    range (the p_j are correlated at the 0.999+ level and span many orders of
    magnitude), which is what makes MIGRAD fail on flat, sculpted spectra. The
    columns of basis @ T are orthonormal under the (count-weighted, centred)
    distribution of the data, so the Fisher information of c is close to
    N times the identity: every c_j has an error of about 1/sqrt(N) and they are
    nearly uncorrelated. This is an exact reparametrisation of the same family.
    (The powers of x of the exponential polynomial are nearly collinear too.)
    """
    counts = np.asarray(counts, dtype=float)
    mids = 0.5 * (edges[:-1] + edges[1:])
    g = _log_basis(mids, n_params, family, sqrt_s, (float(edges[0]), float(edges[-1])))
    # empty bins keep a small weight so that a sparse tail still shapes the basis
    w = counts + 0.05 * max(counts.sum(), 1.0) / counts.size
    w = w / w.sum()
    a = np.sqrt(w)[:, None] * (g - w @ g)
    scale = np.sqrt(np.sum(a**2, axis=0))
    scale = np.where(scale > 0, scale, 1.0)
    r = np.linalg.qr(a / scale).R
    d = np.where(np.abs(np.diag(r)) > 1e-12, np.diag(r), 1e-12)
    r[np.diag_indices_from(r)] = d
    return np.linalg.solve(r.T, np.diag(1.0 / scale)).T


def _nll_and_grad(model: DijetModel, counts: np.ndarray):
    def nll(theta):
        return poisson_nll(counts, model.expected(theta))

    def grad(theta):
        mu, jac = model.expected_and_jacobian(theta)
        return jac.T @ (1.0 - counts / np.maximum(mu, 1e-300))

    return nll, grad


def _minuit_fit(model: DijetModel, counts: np.ndarray, theta0: np.ndarray):
    """Minimise the Poisson NLL with MIGRAD (analytic gradient) in the conditioned
    parameters, from ``theta0``; strategy 1, then 2 and SIMPLEX + MIGRAD as retries.
    Returns the best valid Minuit object or None."""
    k = theta0.size
    names = ["N"] + [f"c{j}" for j in range(1, k)]
    nll, grad = _nll_and_grad(model, counts)
    total = max(float(counts.sum()), 1.0)
    best = None
    for strategy in (1, 2):
        m = Minuit(nll, theta0, grad=grad, name=names)
        m.errordef = Minuit.LIKELIHOOD
        m.strategy = strategy
        m.limits["N"] = (1e-9, None)
        # natural scales of the conditioned parameters: sqrt(N) and 1/sqrt(N)
        m.errors = [math.sqrt(total)] + [1.0 / math.sqrt(total)] * (k - 1)
        m.migrad(ncall=20000)
        if not m.valid:
            m.simplex(ncall=5000)
            m.migrad(ncall=20000)
        if m.valid and (best is None or m.fval < best.fval - 1e-9):
            best = m
        if best is not None:
            break
    return best


def fit_binned(
    counts: np.ndarray,
    edges: np.ndarray,
    n_params: int = 3,
    *,
    sqrt_s: float = SQRT_S,
    start: Sequence[float] | np.ndarray | None = None,
    family: str = "dijet",
    chi2_bin_width: float | None = None,
) -> BackgroundFit:
    """Fit the background function with ``n_params`` parameters to fine-binned counts.

    ``family`` is ``"dijet"`` or ``"exppoly"``; the chi2 uses the CMS dijet bins, or
    uniform bins of ``chi2_bin_width`` (for exppoly by default 5 fine bins).

    The fit runs in conditioned shape parameters (:func:`conditioning_transform`),
    in which the likelihood is close to a well-scaled quadratic, so that it
    converges wherever an optimum exists, also on flat (sculpted) spectra.
    Starts, all tried, the lowest valid minimum kept: the given ``start`` shape
    parameters (by default the smaller model's minimum with the new parameters
    at 0, which makes the nested NLLs non-increasing), a log-linear least-squares
    fit, and a few standard shapes. Each start is brought close to the minimum by
    damped Fisher scoring and then finished by MIGRAD. Raises FitError when none
    converges.
    """
    counts = np.asarray(counts, dtype=float)
    edges = np.asarray(edges, dtype=float)
    total = counts.sum()
    if total < n_params + 1:
        raise StatsError(
            f"too few events to fit ({total:.0f} in [{edges[0]:.0f}, {edges[-1]:.0f}] GeV)"
        )
    _check_family(family, n_params)
    if family == "exppoly" and chi2_bin_width is None:
        chi2_bin_width = EXPPOLY_CHI2_FINE_BINS * float(edges[1] - edges[0])
    tmat = conditioning_transform(counts, edges, n_params, sqrt_s, family=family)
    model = DijetModel(edges, n_params, sqrt_s, transform=tmat, family=family)
    starts_p = []
    if start is None and n_params > FAMILIES[family][0]:
        # nested start: the smaller model's minimum with the new parameter at 0
        try:
            start = fit_binned(
                counts, edges, n_params - 1, sqrt_s=sqrt_s, family=family,
                chi2_bin_width=chi2_bin_width,
            ).params[1:]  # fmt: skip
        except FitError:
            start = None
    if start is not None:
        s = np.zeros(n_params - 1)
        st = np.asarray(start, dtype=float)[: n_params - 1]
        s[: st.size] = st
        starts_p.append(s)
    lin = _start_values(counts, edges, n_params, sqrt_s, family)
    if lin is not None:
        starts_p.append(lin)
    if family == "dijet":
        standard = ((10.0, 5.0), (0.0, 0.0), (5.0, 3.0))
    else:  # flat, and falling by e^-5 or e^-2 over the range
        standard = ((0.0, 0.0), (-5.0, 0.0), (-2.0, 0.0))
    starts_p += [np.array([p1, p2, 0.0, 0.0, 0.0][: n_params - 1]) for p1, p2 in standard]
    best = None
    seen: list[np.ndarray] = []
    for s in starts_p:
        if not np.all(np.isfinite(s)):
            continue
        theta0 = np.concatenate([[total], np.linalg.solve(tmat, s)])
        if not np.all(np.isfinite(model.expected(theta0))):
            continue
        # damped Fisher scoring gets close (robust, cheap); MIGRAD certifies the minimum
        theta1, _, _ = fisher_fit(model, counts, theta0, max_iter=100, tol=1e-9)
        if any(np.allclose(theta1[1:], t, rtol=0, atol=1e-4 / math.sqrt(total)) for t in seen):
            continue  # the same minimum as an earlier start
        seen.append(theta1[1:])
        m = _minuit_fit(model, counts, theta1)
        if m is not None and (best is None or m.fval < best.fval - 1e-6):
            best = m
        # converged fits from the data-driven starts are enough; the rest are fallbacks
        if best is not None and len(seen) >= 2:
            break
    if best is None:
        raise FitError(
            f"{family} {n_params}-parameter fit did not converge in "
            f"[{edges[0]:g}, {edges[-1]:g}] after all retries"
        )
    c = np.array(best.values)
    cov_c = fisher_covariance(model, c)
    b = np.eye(n_params)
    b[1:, 1:] = tmat
    theta = b @ c
    plain = DijetModel(edges, n_params, sqrt_s, family=family)
    return _make_result(plain, counts, theta, b @ cov_c @ b.T, best.fval, chi2_bin_width)


def fisher_covariance(model: DijetModel, theta: np.ndarray) -> np.ndarray:
    """Covariance from the analytic expected Fisher information J^T diag(1/mu) J.

    The dijet parameters are strongly correlated; MINUIT's finite-difference
    Hessian is then step-size sensitive, while this is exact for the model.
    """
    mu, jac = model.expected_and_jacobian(theta)
    info = (jac / np.maximum(mu, 1e-300)[:, None]).T @ jac
    try:
        return np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(info)


def _make_result(
    model: DijetModel, counts, theta, theta_cov, nll, chi2_bin_width: float | None = None
) -> BackgroundFit:
    k = model.n_params
    logp0 = model.log_p0(theta)
    # p0 under- or overflows for extreme (valid) shapes; results then use log_p0 and theta
    p0 = math.exp(logp0) if logp0 < 700.0 else math.inf
    params = np.concatenate([[p0], theta[1:]])
    # Jacobian d(p0, p1, ...)/d theta: p0 depends on N and on the shape parameters
    tjac = np.eye(k)
    with np.errstate(over="ignore", invalid="ignore"):
        tjac[0] = p0 * model.dlog_p0(theta)
        cov = tjac @ theta_cov @ tjac.T
    mu = model.expected(theta)
    fit_range = (float(model.edges[0]), float(model.edges[-1]))
    chi2, ndof = _chi2_ndof(counts, model.edges, mu, fit_range, k, chi2_bin_width)
    return BackgroundFit(
        n_params=k,
        params=params,
        errors=np.sqrt(np.maximum(np.diag(cov), 0.0)),
        covariance=cov,
        theta=theta,
        theta_cov=theta_cov,
        nll=float(nll),
        chi2=chi2,
        ndof=ndof,
        fit_range=fit_range,
        sqrt_s=model.sqrt_s,
        edges=model.edges,
        counts=counts,
        family=model.family,
        chi2_bin_width=chi2_bin_width,
    )


def fit_background(
    mjj: np.ndarray,
    n_params: int = 3,
    *,
    fit_range: tuple[float, float] | None = None,
    bin_width: float = 4.0,
    sqrt_s: float = SQRT_S,
    start: Sequence[float] | np.ndarray | None = None,
    family: str = "dijet",
    chi2_bin_width: float | None = None,
) -> BackgroundFit:
    """Fit the background function to an array of feature values, binned in ``bin_width``."""
    mjj = np.asarray(mjj, dtype=float)
    if fit_range is None:
        fit_range = default_fit_range(mjj, bin_width)
    counts, edges = bin_events(mjj, fit_range, bin_width)
    return fit_binned(
        counts, edges, n_params, sqrt_s=sqrt_s, start=start, family=family,
        chi2_bin_width=chi2_bin_width,
    )  # fmt: skip


def default_fit_range(mjj: np.ndarray, bin_width: float) -> tuple[float, float]:
    """Lowest event rounded down and highest rounded up to the bin width."""
    mjj = np.asarray(mjj, dtype=float)
    if mjj.size == 0:
        raise StatsError("no events to fit")
    lo = math.floor(float(mjj.min()) / bin_width) * bin_width
    hi = math.floor(float(mjj.max()) / bin_width + 1) * bin_width
    return (lo, hi)


def fisher_fit(
    model: DijetModel,
    counts: np.ndarray,
    theta0: np.ndarray,
    *,
    max_iter: int = 50,
    tol: float = 1e-7,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, float, bool]:
    """Fast damped Fisher-scoring (Levenberg-Marquardt) Poisson fit for toys.

    Converges in a few iterations from a nearby start (the generating fit), at a
    fraction of MIGRAD's cost; used where thousands of fits are needed.
    ``mask`` (bool per bin): fit only these bins, e.g. with a window excluded.
    Returns (theta, nll, converged).
    """
    theta = np.asarray(theta0, dtype=float).copy()
    keep = np.ones(len(counts)) if mask is None else np.asarray(mask, dtype=float)
    if keep.shape != np.shape(counts) or not keep.any():
        raise StatsError("fisher_fit: the mask must be one bool per bin, not all false")
    counts = np.asarray(counts, dtype=float) * keep

    def nll(mu: np.ndarray) -> float:
        return poisson_nll(counts, mu * keep)

    mu, jac = model.expected_and_jacobian(theta)
    f = nll(mu)
    lam = 1e-3
    for _ in range(max_iter):
        w = keep / np.maximum(mu, 1e-300)
        g = jac.T @ (keep - counts * w)
        info = (jac * w[:, None]).T @ jac
        improved = False
        for _ in range(20):
            a = info + lam * np.diag(np.diag(info))
            try:
                step = np.linalg.solve(a, -g)
            except np.linalg.LinAlgError:
                lam *= 10
                continue
            t_new = theta + step
            if t_new[0] <= 0:
                lam *= 10
                continue
            mu_new = model.expected(t_new)
            f_new = nll(mu_new)
            if np.isfinite(f_new) and f_new <= f + 1e-12:
                improved = True
                break
            lam *= 10
        if not improved:
            return theta, f, bool(np.abs(g).max() < 1e-3 * max(1.0, np.sqrt(counts.sum())))
        df = f - f_new
        theta, f = t_new, f_new
        mu, jac = model.expected_and_jacobian(theta)
        lam = max(lam / 10, 1e-9)
        if df < tol:
            return theta, f, True
    return theta, f, False
