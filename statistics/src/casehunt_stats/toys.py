"""Random spectra for tests, toys and injections (inverse CDF on a fine grid)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .dijet import SQRT_S, dijet_function, exppoly_function

__all__ = ["sample_dijet", "sample_exppoly", "sample_pdf"]


def sample_pdf(
    pdf: Callable[[np.ndarray], np.ndarray],
    n: int,
    lo: float,
    hi: float,
    rng: np.random.Generator,
    n_grid: int = 20001,
) -> np.ndarray:
    """Draw ``n`` values from a density on [lo, hi] by inverting its CDF on a grid."""
    grid = np.linspace(lo, hi, n_grid)
    dens = np.maximum(pdf(grid), 0.0)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))])
    cdf /= cdf[-1]
    return np.interp(rng.random(n), cdf, grid)


def sample_dijet(
    params: Sequence[float] | np.ndarray,
    n: int,
    mjj_range: tuple[float, float],
    rng: np.random.Generator,
    sqrt_s: float = SQRT_S,
) -> np.ndarray:
    """Draw ``n`` dijet masses from the dijet function (shape only; p0 is ignored)."""
    p = np.array(params, dtype=float)
    p[0] = 1.0
    return sample_pdf(lambda m: dijet_function(m, p, sqrt_s), n, *mjj_range, rng)


def sample_exppoly(
    params: Sequence[float] | np.ndarray,
    n: int,
    x_range: tuple[float, float],
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw ``n`` values on ``x_range`` from the exponential polynomial scaled over it."""
    p = np.array(params, dtype=float)
    p[0] = 1.0
    return sample_pdf(lambda m: exppoly_function(m, p, x_range), n, *x_range, rng)
