"""Feature variants for robustness studies: added noise features, mass-mjj correlation.

- Noise features (Finke et al., arXiv:2309.13111): N standard-normal columns that carry
  no information. A method that degrades with them overfits uninformative inputs.
  The noise of an event is a function of the event (a hash of its feature values and
  mjj) and of a noise seed, not of call order: the same event gets the same noise in
  ``fit`` and in ``score``, in every fold and every call, as if the dataset had these
  columns.
- Correlated masses (Hallin et al., arXiv:2109.00546, Sec. 5): the jet masses are
  shifted by a fraction of mjj, mj -> mj + 0.1 mjj, so that the features depend on the
  resonant variable. Differences of the two masses (``delta_mj``) are unchanged by a
  common shift. A method that interpolates the mjj dependence (CATHODE) should cope; one
  that assumes independence (CWoLa) sculpts.
"""

from __future__ import annotations

import numpy as np

#: event-level columns that are jet masses (shifted by the correlated variant)
MASS_COLUMNS = frozenset({"mj1", "mj2", "msd_j1", "msd_j2", "m_j1", "m_j2"})

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(h: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a bijective 64-bit mixer (arrays wrap silently)."""
    h = h ^ (h >> np.uint64(30))
    h = h * _M1
    h = h ^ (h >> np.uint64(27))
    h = h * _M2
    return h ^ (h >> np.uint64(31))


def event_hash(values: np.ndarray, seed: int) -> np.ndarray:
    """A 64-bit hash per row of `values` (N, K), from the bits of its float64 values."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    h = np.full(len(bits), np.uint64(seed % 2**64), dtype=np.uint64)
    h = _mix(h + _GOLDEN)
    for k in range(bits.shape[1]):
        h = _mix(h ^ (bits[:, k] + _GOLDEN))
    return h


def noise_features(values: np.ndarray, n: int, seed: int) -> np.ndarray:
    """(N, n) standard-normal noise, a deterministic function of each row of `values`."""
    h = event_hash(values, seed)
    out = np.empty((len(h), n), dtype=np.float64)
    for j in range(n):
        # two independent 53-bit uniforms per feature, then Box-Muller
        a = _mix(h + _offset(2 * j + 1))
        b = _mix(h + _offset(2 * j + 2))
        u1 = ((a >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
        u2 = ((b >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
        out[:, j] = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    return out


def _offset(k: int) -> np.uint64:
    """k times the golden-ratio constant, modulo 2^64 (in Python ints: no overflow warning)."""
    return np.uint64((k * 0x9E3779B97F4A7C15) % 2**64)


def correlate(x: np.ndarray, columns: tuple[str, ...], mjj: np.ndarray, k: float) -> np.ndarray:
    """`x` with every jet-mass column shifted by k * mjj."""
    x = np.array(x, dtype=np.float64, copy=True)
    for i, name in enumerate(columns):
        if name in MASS_COLUMNS:
            x[:, i] += k * np.asarray(mjj, dtype=np.float64)
    return x
