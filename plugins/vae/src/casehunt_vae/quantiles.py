"""Quantile regression of an anomaly score against mjj: a score with flat efficiency.

The raw VAE score of a QCD jet grows with its mass, and jet masses grow with mjj, so a
plain cut on the raw score keeps more events at high mjj and sculpts the spectrum. CASE
(arXiv:2412.03747, VAE-QR; Sec. 5) regresses quantiles of the score against mjj and
selects events above the q-quantile curve at their own mjj: the same background
efficiency at every mjj.

The casehunt contract wants one score per event, cut at a quantile of the sideband
scores. So the curves q_k(mjj) of a grid of levels tau_k are turned into the conditional
CDF level of an event's score at its mjj: the score is tau_k on curve k, linear in the
score between curves, with exponential tails beyond the first and last curves. A cut at
level 1 - eps then keeps a fraction eps at every mjj.

Each curve is a polynomial of low degree in log(mjj) (CASE smoothed its network's curves
with a low-order polynomial), fitted by minimising the pinball loss of quantile
regression (Koenker and Bassett, Econometrica 46 (1978) 33), an exact linear program.
The fit is on log(score): quantiles commute with monotonic maps, and a score whose
scale grows with mjj becomes a shift, which a low-order polynomial follows well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Curves within this distance (in log score) are separated to keep the map strictly
#: increasing; far below any resolution that matters.
MIN_GAP = 1e-9
#: A level is fitted only if at least this many events are expected on each side of
#: it; a curve through fewer would follow their fluctuations.
MIN_EVENTS_PER_SIDE = 10
#: Beyond the top curve the survival falls exponentially, then as 1 / (1 + u): slower,
#: so that the level never rounds to 1 in float64 and the far tail keeps its order.
EXP_TAIL_LENGTH = np.log(1e4)
#: Up to this many events the linear program is solved directly; above, it is reduced
#: to the events near the curve first (pinball_fit).
DIRECT_LP_EVENTS = 4000
#: Scores are floored here before the logarithm.
SCORE_FLOOR = 1e-12


def pinball_fit(x: np.ndarray, y: np.ndarray, tau: float) -> np.ndarray:
    """Coefficients b minimising sum_i rho_tau(y_i - x_i . b), the quantile-regression loss.

    An exact linear program. For many events the preprocessing of Portnoy and Koenker
    (Statistical Science 12 (1997) 279) makes it small: a fit on a subsample ranks the
    residuals of all events; those far below or far above the curve are lumped into one
    pseudo-event each, and only the events near it enter the program. If a lumped event
    ends on the wrong side of the new curve it goes back in and the program is solved
    again, so the result is the optimum of the full problem.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, p = x.shape
    if n <= DIRECT_LP_EVENTS:
        return _full_lp(x, y, tau)
    # a fixed subsample: the answer is the exact optimum whatever it is
    m = int(min(n, max(DIRECT_LP_EVENTS // 2, (p * n) ** (2 / 3))))
    sub = np.random.default_rng(0).choice(n, m, replace=False)
    b = _full_lp(x[sub], y[sub], tau)
    band = 3.0
    for _ in range(4):
        order = np.argsort(y - x @ b, kind="stable")
        half = band * n / np.sqrt(m)
        k_low = int(max(0.0, np.floor(n * tau - half)))
        k_high = int(min(float(n), np.ceil(n * tau + half)))
        below, near, above = order[:k_low], order[k_low:k_high], order[k_high:]
        for _ in range(4):
            # the lumped events' loss is linear in b while they stay on their side:
            # (1 - tau) (x . b - y) below the curve, tau (y - x . b) above it
            g = (1.0 - tau) * x[below].sum(axis=0) - tau * x[above].sum(axis=0)
            reduced = _dual_lp(x[near], y[near], tau, g)
            if reduced is None:
                break  # infeasible: too few events near the curve to balance the lumps
            b = reduced
            r = y - x @ b
            wrong_below, wrong_above = r[below] > 0, r[above] < 0
            n_wrong = int(wrong_below.sum() + wrong_above.sum())
            if n_wrong == 0:
                return b
            if n_wrong > 0.1 * len(near):
                break  # the band was too narrow: widen it
            near = np.concatenate([near, below[wrong_below], above[wrong_above]])
            below, above = below[~wrong_below], above[~wrong_above]
        band *= 2.0
    return _full_lp(x, y, tau)


def _full_lp(x: np.ndarray, y: np.ndarray, tau: float) -> np.ndarray:
    b = _dual_lp(x, y, tau, np.zeros(x.shape[1]))
    if b is None:  # the full problem is always feasible (a = 1 - tau)
        raise RuntimeError(f"quantile regression at level {tau}: the solver found no solution")
    return b


def _dual_lp(x: np.ndarray, y: np.ndarray, tau: float, g: np.ndarray) -> np.ndarray | None:
    """argmin_b sum_i rho_tau(y_i - x_i . b) + g . b, through its dual linear program.

    Koenker (Quantile Regression, 2005, Sec. 6.2): maximise y . a subject to
    X^T a = (1 - tau) X^T 1 + g and 0 <= a <= 1; b are the multipliers of the equality
    constraints. The dual has one row per coefficient, so the simplex is fast. An
    infeasible dual (a reduced problem that is unbounded) gives None.
    """
    from scipy.optimize import linprog

    result = linprog(
        -y,
        A_eq=x.T,
        b_eq=(1.0 - tau) * x.sum(axis=0) + g,
        bounds=(0.0, 1.0),
        method="highs-ds",
    )
    if result.status == 2:
        return None
    if result.status != 0:
        raise RuntimeError(f"quantile regression at level {tau} failed: {result.message}")
    return -np.asarray(result.eqlin.marginals, dtype=np.float64)


@dataclass
class QuantileCalibration:
    """Quantile curves of log(score) in log(mjj), and the conditional CDF level they imply."""

    levels: np.ndarray
    #: (n_levels, degree + 1) Legendre coefficients of each curve
    coefficients: np.ndarray
    #: log(mjj) mapped to [-1, 1] over the fitted range: (log m - centre) / half_width
    centre: float
    half_width: float

    @classmethod
    def fit(
        cls, score: np.ndarray, mjj: np.ndarray, levels: Sequence[float], degree: int
    ) -> QuantileCalibration:
        """Fit one curve per level on (score, mjj) of events the scorer did not train on.

        Levels with fewer than MIN_EVENTS_PER_SIDE expected events above or below are left
        out (the tails extrapolate from the others); at least two must remain.
        """
        score = np.asarray(score, dtype=np.float64)
        mjj = np.asarray(mjj, dtype=np.float64)
        if score.shape != mjj.shape or score.ndim != 1:
            raise ValueError("score and mjj must be 1-d arrays of the same length")
        if not (np.all(np.isfinite(score)) and np.all(np.isfinite(mjj)) and np.all(mjj > 0)):
            raise ValueError("quantile regression needs finite scores and positive, finite mjj")
        n = len(score)
        grid = np.sort(np.asarray(levels, dtype=np.float64))
        usable = grid[(n * (1 - grid) >= MIN_EVENTS_PER_SIDE) & (n * grid >= MIN_EVENTS_PER_SIDE)]
        if len(usable) < 2:
            raise ValueError(
                f"quantile regression on {n} events: fewer than two of the levels "
                f"{grid.tolist()} have {MIN_EVENTS_PER_SIDE} events on each side; "
                "give more events (validation_fraction) or levels nearer the middle"
            )
        log_m = np.log(mjj)
        lo, hi = float(log_m.min()), float(log_m.max())
        centre, half_width = 0.5 * (lo + hi), max(0.5 * (hi - lo), 1e-9)
        calib = cls(usable, np.empty((0, degree + 1)), centre, half_width)
        x = calib._basis(mjj, degree)
        y = np.log(np.maximum(score, SCORE_FLOOR))
        calib.coefficients = np.stack([pinball_fit(x, y, float(tau)) for tau in usable])
        return calib

    @property
    def degree(self) -> int:
        return self.coefficients.shape[1] - 1

    def _basis(self, mjj: np.ndarray, degree: int) -> np.ndarray:
        # Legendre polynomials of log(mjj) on [-1, 1] (well conditioned); outside the
        # fitted range the curves stay at their edge values rather than extrapolate
        t = (np.log(np.asarray(mjj, dtype=np.float64)) - self.centre) / self.half_width
        return np.polynomial.legendre.legvander(np.clip(t, -1.0, 1.0), degree)

    def curves(self, mjj: np.ndarray) -> np.ndarray:
        """(N, n_levels) log-score quantiles at each mjj, sorted and strictly increasing.

        Fitted separately, curves may cross where data are sparse; sorting them per event
        is the rearrangement of Chernozhukov et al. (Econometrica 78 (2010) 1093), which
        never makes the estimate worse.
        """
        q = np.sort(self._basis(mjj, self.degree) @ self.coefficients.T, axis=1)
        gaps = MIN_GAP * np.arange(q.shape[1])
        return np.maximum.accumulate(q - gaps, axis=1) + gaps

    def thresholds(self, mjj: np.ndarray, level: float) -> np.ndarray:
        """The raw score at conditional level `level` at each mjj (the inverse of transform)."""
        tau = self.levels
        if not tau[0] <= level <= tau[-1]:
            raise ValueError(f"level {level} is outside the fitted levels [{tau[0]}, {tau[-1]}]")
        q = self.curves(mjj)
        j = min(int(np.searchsorted(tau, level, side="right")), len(tau) - 1)
        w = (level - tau[j - 1]) / (tau[j] - tau[j - 1])
        return np.exp(q[:, j - 1] + w * (q[:, j] - q[:, j - 1]))

    def transform(self, score: np.ndarray, mjj: np.ndarray) -> np.ndarray:
        """The conditional CDF level of each score at its mjj: strictly increasing in score."""
        y = np.log(np.maximum(np.asarray(score, dtype=np.float64), SCORE_FLOOR))
        q = self.curves(mjj)
        tau = self.levels
        k = (y[:, None] >= q).sum(axis=1)  # curves at or below the score
        out = np.empty(len(y))
        rows = np.arange(len(y))

        # between curves k-1 and k: linear in the (log) score
        mid = (k > 0) & (k < len(tau))
        km = k[mid]
        lo, hi = q[rows[mid], km - 1], q[rows[mid], km]
        out[mid] = tau[km - 1] + (tau[km] - tau[km - 1]) * (y[mid] - lo) / (hi - lo)

        # below the first curve: an exponential lower tail through the first two
        # curves, F = tau_1 exp((y - q_1) / s)
        below = k == 0
        s_low = (q[below, 1] - q[below, 0]) / np.log(tau[1] / tau[0])
        out[below] = tau[0] * np.exp((y[below] - q[below, 0]) / s_low)

        # above the last curve: survival (1 - tau_K) exp(-u), u = (y - q_K) / s, with s
        # from the last two curves; past EXP_TAIL_LENGTH it decays as 1 / (1 + u) instead
        # (same value and slope there), so that it never rounds to zero
        above = k == len(tau)
        s_high = (q[above, -1] - q[above, -2]) / np.log((1 - tau[-2]) / (1 - tau[-1]))
        u = (y[above] - q[above, -1]) / s_high
        far = u > EXP_TAIL_LENGTH
        survival = np.where(
            far,
            np.exp(-EXP_TAIL_LENGTH) / (1.0 + np.where(far, u - EXP_TAIL_LENGTH, 0.0)),
            np.exp(-np.minimum(u, EXP_TAIL_LENGTH)),
        )
        out[above] = 1.0 - (1.0 - tau[-1]) * survival
        return out
