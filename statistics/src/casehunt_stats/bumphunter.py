"""BumpHunter: a model-independent cross-check of the profile-likelihood scan.

G. Choudalakis, "On hypothesis testing, trials factor, hypertests and the
BumpHunter", arXiv:1101.0390, Sec. 2. Every window of contiguous bins (widths
from ``min_width`` to ``max_width`` bins, every position) is compared with the
background expectation b; the local p-value of an excess of d observed events is
the Poisson probability P(n >= d | b) when d > b and 1 otherwise (the paper looks
for excesses only). The test statistic is t = -ln(min p) over all windows, and
its p-value -- the global p-value, which includes the trials factor -- is the
fraction of background-only pseudo-experiments with t >= t_obs (Sec. 1.3.2 and 2).

No signal shape is assumed, so BumpHunter is less sensitive than the likelihood
scan to a resonance of the expected width (Sec. 4.2), but it tells where the data
deviate without a template. Here it runs on the coarse CMS dijet bins (about one
mass resolution wide), not on the fine likelihood bins, and the pseudo-data are
Poisson fluctuations of the fitted background, each refitted like the data
(Sec. 2.1), so that data and pseudo-data are treated alike (without the refit the
global p-value is conservative: the fit to the data absorbs part of any excess).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import special, stats

from .dijet import BackgroundFit, chi2_binning, fisher_fit
from .errors import StatsError
from .signal_shape import SignalShape
from .significance import ScanResult, global_significance, toy_p_error

__all__ = [
    "BumpHunterResult",
    "bumphunter_cross_check",
    "bumphunter_on_fit",
    "bumphunter_scan",
    "coarse_spectrum",
    "excluding_refit",
    "refitted_toys",
    "search_windows",
    "window_pvalues",
    "windows",
]

P_FLOOR = np.finfo(float).tiny  # a local p-value that underflows counts as this (t <= 708)
#: local significances at which the cross-check reports both searches' global p-values
#: (their ratio to the local p-value is each search's trials factor)
TRIALS_Z = (2.0, 3.0)


def windows(n_bins: int, min_width: int = 1, max_width: int | None = None) -> np.ndarray:
    """All windows as (first bin, one past the last bin), widths min..max at every position.

    ``max_width`` None is half the number of bins (Sec. 2; also pyBumpHunter's default).
    """
    wmax = max(n_bins // 2, 1) if max_width is None else int(max_width)
    if not 1 <= min_width <= wmax:
        raise StatsError(
            f"window widths need 1 <= min_width <= max_width, got [{min_width}, {wmax}]"
        )
    wmax = min(wmax, n_bins)
    if min_width > n_bins:
        raise StatsError(f"min_width={min_width} bins is wider than the spectrum ({n_bins} bins)")
    lo = np.concatenate([np.arange(n_bins - w + 1) for w in range(min_width, wmax + 1)])
    width = np.concatenate([np.full(n_bins - w + 1, w) for w in range(min_width, wmax + 1)])
    return np.stack([lo, lo + width], axis=1)


def search_windows(
    edges: np.ndarray,
    min_width: int = 1,
    max_width: int | None = None,
    centres: tuple[float, float] | None = None,
) -> np.ndarray:
    """:func:`windows` of the bins ``edges``, only those centred in ``centres`` if given."""
    edges = np.asarray(edges, dtype=float)
    win = windows(edges.size - 1, min_width, max_width)
    if centres is not None:
        mid = 0.5 * (edges[win[:, 0]] + edges[win[:, 1]])
        win = win[(mid >= centres[0]) & (mid <= centres[1])]
        if len(win) == 0:
            raise StatsError(
                f"no BumpHunter window of {min_width}-{max_width} bins has its centre in "
                f"[{centres[0]:g}, {centres[1]:g}]"
            )
    return win


def _window_sums(x: np.ndarray, win: np.ndarray) -> np.ndarray:
    """Sums of ``x`` (bins on the last axis) over every window, from cumulative sums."""
    x = np.asarray(x, dtype=float)
    cx = np.concatenate([np.zeros((*x.shape[:-1], 1)), np.cumsum(x, axis=-1)], axis=-1)
    return cx[..., win[:, 1]] - cx[..., win[:, 0]]


def window_pvalues(counts: np.ndarray, background: np.ndarray, win: np.ndarray) -> np.ndarray:
    """Local p-values of an excess in every window; (n_bins,) or (n_toys, n_bins) inputs.

    p = P(n >= d | b) = P(d, b), the regularised lower incomplete gamma function, for
    d > b, else 1 (Sec. 2). Window sums are differences of cumulative sums.
    """
    d = np.rint(_window_sums(counts, win))
    b = _window_sums(background, win)
    d, b = np.broadcast_arrays(d, b)
    p = np.ones(d.shape)
    excess = d > b
    p[excess] = special.gammainc(d[excess], b[excess])
    return p


def _toy_t(counts: np.ndarray, background: np.ndarray, win: np.ndarray) -> np.ndarray:
    """t = -ln(min p) per toy (rows of ``counts``; ``background`` one row or one per toy),
    in batches that keep memory to a few MB."""
    batch = max(1, 400_000 // max(len(win), 1))
    out = np.empty(counts.shape[0])
    for i in range(0, counts.shape[0], batch):
        b = background if background.ndim == 1 else background[i : i + batch]
        out[i : i + batch] = window_pvalues(counts[i : i + batch], b, win).min(axis=1)
    return -np.log(np.maximum(out, P_FLOOR))


@dataclasses.dataclass
class BumpHunterResult:
    """The most significant window and the global p-value of t = -ln(min local p)."""

    edges: np.ndarray
    first_bin: int
    last_bin: int  # one past the last bin of the window
    observed: float
    expected: float
    local_p: float
    t: float
    n_toys: int
    n_exceed: int
    min_width: int
    max_width: int
    toy_t: np.ndarray

    @property
    def low(self) -> float:
        return float(self.edges[self.first_bin])

    @property
    def high(self) -> float:
        return float(self.edges[self.last_bin])

    @property
    def centre(self) -> float:
        return 0.5 * (self.low + self.high)

    @property
    def has_excess(self) -> bool:
        """False when no window holds more events than expected (t = 0, no window found)."""
        return self.local_p < 1.0

    @property
    def global_p(self) -> float:
        return self.n_exceed / self.n_toys if self.n_toys else float("nan")

    @property
    def global_p_err(self) -> float:
        """Toy error of the global p (:func:`toy_p_error`; not zero when no toy exceeds)."""
        return toy_p_error(self.n_exceed, self.n_toys)

    def global_p_at(self, local_z: float) -> float:
        """Global p-value a most significant window of local significance ``local_z``
        would have: the fraction of pseudo-experiments with t >= -ln p(local_z)."""
        if not self.n_toys:
            return float("nan")
        t = -math.log(max(float(stats.norm.sf(local_z)), P_FLOOR))
        return float(np.mean(self.toy_t >= t - 1e-12))

    @property
    def global_z(self) -> float:
        """One-sided Z of the global p (below 1/n_toys: of 0.5/n_toys, as global_significance)."""
        if not self.n_toys:
            return float("nan")
        p = self.global_p if self.n_exceed else 0.5 / self.n_toys
        return float(stats.norm.isf(p))

    def contains(self, x: float) -> bool:
        """Whether ``x`` lies in the window [low, high) (never when there is no excess)."""
        return self.has_excess and self.low <= x < self.high

    def to_dict(self) -> dict[str, Any]:
        def fin(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        found = self.has_excess
        return {
            "window": [self.low, self.high] if found else None,
            "window_bins": [self.first_bin, self.last_bin] if found else None,
            "observed": self.observed if found else None,
            "expected": self.expected if found else None,
            "local_p": self.local_p,
            "local_z": fin(float(stats.norm.isf(self.local_p))) if found else None,
            "t": self.t,
            "global_p": fin(self.global_p),
            "global_p_err": fin(self.global_p_err),
            "global_z": fin(self.global_z),
            "n_toys": self.n_toys,
            "n_exceed": self.n_exceed,
            "widths": [self.min_width, self.max_width],
            "n_bins": int(self.edges.size - 1),
        }


def bumphunter_scan(
    counts: np.ndarray,
    background: np.ndarray,
    edges: np.ndarray,
    *,
    min_width: int = 1,
    max_width: int | None = None,
    n_toys: int = 1000,
    seed: int | np.random.Generator = 0,
    toys: tuple[np.ndarray, np.ndarray] | None = None,
    centres: tuple[float, float] | None = None,
) -> BumpHunterResult:
    """BumpHunter on observed ``counts`` against the expected ``background`` in bins ``edges``.

    Pseudo-experiments are Poisson fluctuations of ``background`` in every bin
    (Sec. 2.1); ``n_toys`` = 0 gives the most significant window without a global p.
    ``toys`` = (counts, background), each (n_toys, n_bins), replaces them: pseudo-data
    with the background each was compared with (refitted, see :func:`bumphunter_on_fit`).
    ``centres`` = (low, high) keeps only windows whose centre lies in that range, in the
    data and in every pseudo-experiment: the search range of a likelihood scan over
    signal masses, so that both look elsewhere over the same masses.
    """
    n = np.asarray(counts, dtype=float)
    b = np.asarray(background, dtype=float)
    edges = np.asarray(edges, dtype=float)
    if n.ndim != 1 or n.shape != b.shape or edges.shape != (n.size + 1,):
        raise StatsError(
            f"counts, background and edges must be 1-d of sizes n, n, n+1; got "
            f"{n.shape}, {b.shape}, {edges.shape}"
        )
    if np.any(b <= 0) or not np.all(np.isfinite(b)):
        raise StatsError("the background expectation must be finite and > 0 in every bin")
    if n_toys < 0:
        raise StatsError(f"n_toys must be >= 0, got {n_toys}")
    win = search_windows(edges, min_width, max_width, centres)
    p = window_pvalues(n, b, win)
    best = int(np.argmin(p))  # the first of equal p-values: the narrowest, lowest window
    lo, hi = (int(v) for v in win[best])
    p_min = max(float(p[best]), P_FLOOR)
    if toys is None:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        toys = (rng.poisson(b, size=(n_toys, b.size)).astype(float), b)
    n_toys = toys[0].shape[0]
    toy_t = _toy_t(toys[0], toys[1], win) if n_toys else np.empty(0)
    t_obs = -math.log(p_min)
    return BumpHunterResult(
        edges=edges,
        first_bin=lo,
        last_bin=hi,
        observed=float(n[lo:hi].sum()),
        expected=float(b[lo:hi].sum()),
        local_p=float(p[best]),
        t=t_obs,
        n_toys=int(n_toys),
        n_exceed=int(np.sum(toy_t >= t_obs - 1e-12)),
        min_width=int(min_width),
        max_width=int((win[:, 1] - win[:, 0]).max()),
        toy_t=toy_t,
    )


def _coarse_edges(fit: BackgroundFit, edges: np.ndarray | None) -> np.ndarray:
    """The fit's chi2 bins (default: CMS dijet bins) or ``edges``, snapped to the fine bins."""
    if edges is None:
        return chi2_binning(fit.fit_range, fit.edges, fit.chi2_bin_width)
    idx = np.searchsorted(fit.edges, np.asarray(edges, dtype=float))
    return fit.edges[np.unique(idx.clip(0, fit.edges.size - 1))]


def coarse_spectrum(
    fit: BackgroundFit, edges: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(observed, fitted background, edges) of a fit summed into coarse bins.

    Default: the fit's chi2 bins (:func:`chi2_binning`, the CMS dijet bins for mjj); given
    ``edges`` are snapped to the fine fit bins so that the observed counts are exact.
    """
    cedges = _coarse_edges(fit, edges)
    idx = np.searchsorted(fit.edges, cedges)[:-1]
    return np.add.reduceat(fit.counts, idx), np.add.reduceat(fit.expected_fine(), idx), cedges


def refitted_toys(
    fit: BackgroundFit, n_toys: int, rng: np.random.Generator, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Background-only pseudo-data of a fit, each refitted like the data (Sec. 2.1).

    Poisson toys in the fine bins around the fitted background, each fitted with the
    same background function (fast Fisher scoring from the fit, as the likelihood's
    global significance does), then both summed into the coarse ``edges``.
    Returns (toy counts, refitted background), each (n_toys, n coarse bins).
    """
    _, model, theta_c = fit.conditioned_fit()
    return _toys(model, theta_c, n_toys, rng, np.searchsorted(fit.edges, edges)[:-1])


def _toys(
    model: Any,
    theta: np.ndarray,
    n_toys: int,
    rng: np.random.Generator,
    coarse_idx: np.ndarray,
    exclusion: tuple[np.ndarray, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson pseudo-data of ``model`` at ``theta`` in the fine bins, each refitted (and,
    with ``exclusion`` = (windows, p), refitted without its most significant window as
    :func:`excluding_refit` does for the data); coarse (counts, background)."""
    mu = model.expected(theta)
    counts = np.empty((n_toys, coarse_idx.size))
    bkg = np.empty((n_toys, coarse_idx.size))
    for i in range(n_toys):
        toy = rng.poisson(mu).astype(float)
        theta_t, _, _ = fisher_fit(model, toy, theta)
        if exclusion is not None:
            theta_t = excluding_refit(model, toy, theta_t, coarse_idx, *exclusion)
        counts[i] = np.add.reduceat(toy, coarse_idx)
        bkg[i] = np.add.reduceat(model.expected(theta_t), coarse_idx)
    return counts, np.maximum(bkg, 1e-12)


def excluding_refit(
    model: Any,
    counts: np.ndarray,
    theta: np.ndarray,
    coarse_idx: np.ndarray,
    win: np.ndarray,
    exclusion_p: float,
) -> np.ndarray:
    """The background parameters refitted without the most significant window, if its
    local p-value is below ``exclusion_p``; else ``theta``.

    The procedure of the ATLAS dijet searches (e.g. arXiv:1407.1376): a background
    fitted to all bins absorbs part of a real excess, so when BumpHunter's most
    significant window has a local p-value below a threshold (0.01 there) the window's
    bins are left out and the background is fitted again. ``counts`` are in the fine
    bins of ``model`` (conditioned parameters ``theta``); ``coarse_idx`` is the first
    fine bin of each coarse bin, ``win`` the windows in coarse bins.
    """
    mu = model.expected(theta)
    obs, exp = np.add.reduceat(counts, coarse_idx), np.add.reduceat(mu, coarse_idx)
    p = window_pvalues(obs, np.maximum(exp, 1e-12), win)
    best = int(np.argmin(p))
    if p[best] >= exclusion_p:
        return theta
    bounds = np.append(coarse_idx, counts.size)  # fine-bin edges of the coarse bins
    keep = np.ones(counts.size, dtype=bool)
    keep[bounds[win[best, 0]] : bounds[win[best, 1]]] = False
    if keep.sum() <= len(theta):
        return theta  # too few bins left to fit: keep the full fit
    theta_x, _, _ = fisher_fit(model, counts, theta, mask=keep)
    return theta_x


def bumphunter_on_fit(
    fit: BackgroundFit,
    *,
    edges: np.ndarray | None = None,
    min_width: int = 1,
    max_width: int | None = None,
    n_toys: int = 1000,
    seed: int | np.random.Generator = 0,
    refit: bool = True,
    centres: tuple[float, float] | None = None,
    exclusion_p: float | None = None,
) -> BumpHunterResult:
    """BumpHunter on the data of a background fit against the fit, in coarse bins.

    With ``refit`` every pseudo-experiment is refitted like the data
    (:func:`refitted_toys`); without, it is compared with the data's fit, which makes
    the global p-value conservative (the fit to the data absorbs part of any excess).
    ``exclusion_p`` (e.g. 0.01): when the most significant window has a local p below
    it, the background is refitted without that window (:func:`excluding_refit`), in
    the data and in every pseudo-experiment, which are then drawn from that refit.
    """
    obs, exp, cedges = coarse_spectrum(fit, edges)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if exclusion_p is None:
        toys = refitted_toys(fit, n_toys, rng, cedges) if refit else None
        return bumphunter_scan(obs, exp, cedges, min_width=min_width, max_width=max_width,
                               n_toys=n_toys, seed=rng, toys=toys, centres=centres)  # fmt: skip
    if not 0 < exclusion_p < 1:
        raise StatsError(f"exclusion_p must be in (0, 1), got {exclusion_p!r}")
    if not refit:
        raise StatsError("exclusion_p needs refit=True: the toys must be treated as the data")
    win = search_windows(cedges, min_width, max_width, centres)
    _, model, theta_c = fit.conditioned_fit()
    idx = np.searchsorted(fit.edges, cedges)[:-1]
    theta_x = excluding_refit(model, fit.counts, theta_c, idx, win, exclusion_p)
    toys = _toys(model, theta_x, n_toys, rng, idx, exclusion=(win, exclusion_p))
    exp = np.maximum(np.add.reduceat(model.expected(theta_x), idx), 1e-12)
    return bumphunter_scan(obs, exp, cedges, min_width=min_width, max_width=max_width,
                           n_toys=n_toys, seed=rng, toys=toys, centres=centres)  # fmt: skip


def bumphunter_cross_check(
    fit: BackgroundFit,
    scan: ScanResult,
    shapes: Sequence[SignalShape],
    *,
    n_toys: int,
    widths: Sequence[int] | None = None,
    global_toys: int = 0,
    seed: int | np.random.Generator = 0,
    same_range: bool = False,
    exclusion_p: float | None = None,
) -> dict[str, Any]:
    """BumpHunter next to the likelihood scan of one selection (``stats/<method>.json``).

    Adds to :meth:`BumpHunterResult.to_dict` the scan's largest excess (mass, local
    Z), the likelihood global p of this selection alone from ``global_toys`` toys
    (:func:`global_significance`; None when 0), and whether the max-Z mass lies in
    the BumpHunter window. With toys, each search also gives the global p-value that
    a largest excess of local Z = 2 and 3 would have (``global_p_at_local_z``): the
    two look-elsewhere effects compared at the same local significance. ``same_range``
    keeps only BumpHunter windows centred within the scan's masses, so that both global
    p-values pay for the same look-elsewhere.
    ``exclusion_p``: refit without the most significant window (:func:`bumphunter_on_fit`).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    wmin, wmax = (1, None) if widths is None else (int(widths[0]), int(widths[1]))
    centres = None
    if same_range and len(scan.points):
        centres = (float(scan.masses.min()), float(scan.masses.max()))
    bh = bumphunter_on_fit(
        fit, min_width=wmin, max_width=wmax, n_toys=n_toys, seed=rng, centres=centres,
        exclusion_p=exclusion_p,
    )  # fmt: skip
    out = bh.to_dict()
    out["global_p_at_local_z"] = (
        {str(z): bh.global_p_at(z) for z in TRIALS_Z} if bh.n_toys else None
    )
    best = scan.max_point
    lik: dict[str, Any] = {"max_z_mass": None, "max_z": None, "global_p": None,
                           "global_p_err": None, "global_toys": 0, "global_max_z": None,
                           "global_p_at_local_z": None}  # fmt: skip
    if best is not None:
        lik.update(max_z_mass=best.mass, max_z=best.z)
        if global_toys > 0 and len(shapes):
            g = global_significance([(fit, list(shapes))], global_toys, seed=rng)
            # global_max_z: the largest local Z of the toys' fast fitter (no shape
            # nuisances) on the data, the value the global p is computed from
            lik.update(global_p=g.p_value, global_toys=g.n_toys, global_p_err=g.p_err,
                       global_max_z=g.observed_max_z,
                       global_p_at_local_z={str(z): g.global_p_at(z) for z in TRIALS_Z})  # fmt: skip
    out["likelihood"] = lik
    out["max_z_mass_in_window"] = bool(best is not None and bh.contains(best.mass))
    return out
