"""Data-level variants for robustness studies: added noise features, mass-mjj correlation.

A variant changes the events, not a method: apply it to the dataset (every split, the
injected signal included) and every method sees the same variant, as if the dataset had
been produced that way.

- Noise features (Finke et al., arXiv:2309.13111): N standard-normal columns
  ``noise_0 .. noise_{N-1}`` that carry no information. A method that degrades with them
  overfits uninformative inputs. The noise of an event is a deterministic function of the
  event (a 64-bit hash of its column values) and of a seed, not of call order or position:
  the same event gets the same noise in every split, fold and call.
- Correlated masses (Hallin et al., arXiv:2109.00546, Sec. 5): the jet masses are shifted
  by a fraction of mjj, mj -> mj + 0.1 mjj, so that the features depend on the resonant
  variable. Differences of the two masses (``delta_mj``) are unchanged by a common shift.
  A method that interpolates the mjj dependence (CATHODE) should cope; one that assumes
  independence of features and mjj (CWoLa) sculpts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from casehunt.errors import ConfigError
from casehunt.events import EventTable

#: event-level and per-jet columns that are jet masses (shifted by the correlated variant)
MASS_COLUMNS = frozenset({"mj1", "mj2", "msd_j1", "msd_j2", "m_j1", "m_j2", "jet_msd", "jet_m"})
#: prefix of the added noise columns
NOISE_PREFIX = "noise_"
#: the shift of the jet masses in the correlated variant (CATHODE paper)
CORRELATION = 0.1

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


def _offset(k: int) -> np.uint64:
    """k times the golden-ratio constant, modulo 2^64 (in Python ints: no overflow warning)."""
    return np.uint64((k * 0x9E3779B97F4A7C15) % 2**64)


def event_hash(values: np.ndarray, seed: int) -> np.ndarray:
    """A 64-bit hash per row of `values` (N, K), from the bits of its float64 values."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    h = np.full(len(bits), np.uint64(seed % 2**64), dtype=np.uint64)
    h = _mix(h + _GOLDEN)
    for k in range(bits.shape[1]):
        h = _mix(h ^ (bits[:, k] + _GOLDEN))
    return h


def noise_values(values: np.ndarray, n: int, seed: int) -> np.ndarray:
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


def correlate(x: np.ndarray, columns: Sequence[str], mjj: np.ndarray, k: float) -> np.ndarray:
    """A feature matrix `x` (N, F) with every jet-mass column shifted by k * mjj."""
    x = np.array(x, dtype=np.float64, copy=True)
    for i, name in enumerate(columns):
        if name in MASS_COLUMNS:
            x[:, i] += k * np.asarray(mjj, dtype=np.float64)
    return x


def noise_columns(n: int) -> tuple[str, ...]:
    return tuple(f"{NOISE_PREFIX}{j}" for j in range(n))


def _key_matrix(events: EventTable, key_columns: Sequence[str] | None) -> np.ndarray:
    if key_columns is None:
        key_columns = sorted(c for c in events.columns if not c.startswith(NOISE_PREFIX))
    parts = []
    for name in key_columns:
        col = events[name]
        if not isinstance(col, np.ndarray) or col.dtype.kind not in "biuf":
            continue  # jagged or non-numeric columns do not enter the hash
        parts.append(col.reshape(len(col), -1).astype(np.float64))
    if not parts:
        raise ConfigError("add_noise_features: no numeric column to derive the noise from")
    return np.hstack(parts)


def add_noise_features(
    events: EventTable, n: int, seed: int = 0, *, key_columns: Sequence[str] | None = None
) -> EventTable:
    """`events` with `n` standard-normal columns ``noise_0 .. noise_{n-1}`` added.

    The noise of an event is a hash of its values in `key_columns` (default: every numeric
    column except earlier noise columns, in name order) and of `seed`, so every split or
    subset of a dataset that has the same columns sees the same noise for the same event.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ConfigError(f"noise features: n must be an integer >= 0, got {n!r}")
    if n == 0:
        return events
    noise = noise_values(_key_matrix(events, key_columns), int(n), int(seed))
    return events.with_columns(**{c: noise[:, j] for j, c in enumerate(noise_columns(n))})


def correlate_masses(
    events: EventTable, factor: float = CORRELATION, *, resonant_feature: str = "mjj"
) -> EventTable:
    """`events` with every jet-mass column (``MASS_COLUMNS``) shifted by factor * mjj.

    Per-jet mass columns ((N, 2)) shift both jets. ``delta_mj`` is left unchanged, as a
    common shift does not change the difference of the masses.
    """
    mjj = np.asarray(events[resonant_feature], dtype=np.float64)
    new = {}
    for name in events.columns:
        if name not in MASS_COLUMNS:
            continue
        col = np.asarray(events[name])
        shift = factor * (mjj[:, None] if col.ndim == 2 else mjj)
        new[name] = (col.astype(np.float64) + shift).astype(col.dtype)
    if not new:
        raise ConfigError(
            f"correlate_masses: the events have none of the mass columns {sorted(MASS_COLUMNS)}"
        )
    return events.with_columns(**new)


#: The named variants of the benchmark suite: name -> function of the events.
def apply_variant(events: EventTable, name: str, *, seed: int = 0) -> EventTable:
    """Apply a named variant: ``baseline``, ``noise<N>`` (e.g. ``noise10``), ``correlated``."""
    if name == "baseline":
        return events
    if name == "correlated":
        return correlate_masses(events)
    if name.startswith("noise") and name[5:].isdigit():
        return add_noise_features(events, int(name[5:]), seed)
    raise ConfigError(f"unknown variant {name!r}: baseline, noise<N> (e.g. noise10), correlated")


def variant_noise(name: str) -> int:
    """The number of noise features a named variant adds (0 for the others)."""
    return int(name[5:]) if name.startswith("noise") and name[5:].isdigit() else 0
