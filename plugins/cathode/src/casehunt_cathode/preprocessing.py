"""Invertible preprocessing of the flow's inputs and condition.

CATHODE (Hallin et al., arXiv:2109.00546, Sec. 3) maps every feature to the unit
interval with its minimum and maximum, applies a logit and standardises the result: the
logit stretches bounded features (tau21 in (0, 1)) and heavy-tailed ones (jet masses,
whose logit near zero is about their logarithm) into shapes a Gaussian-based flow
models easily. The condition mjj is taken as log(mjj), standardised, so that a wide
range of sidebands on a steeply falling spectrum stays of order one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: the unit interval is shrunk to [ALPHA, 1 - ALPHA] so that the training extremes map
#: to finite logits (about +-9.2) instead of +-infinity
ALPHA = 1e-4


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # the two branches avoid overflow of exp for large |z|
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


@dataclass
class LogitScaler:
    """Min-max scaling to (0, 1), logit, standardisation; and its inverse.

    Fitted on the sidebands. Values outside the fitted [min, max] (signal-region data may
    lie beyond the sideband extremes) are clipped to it before the logit: the scaler only
    transforms training events and inverts flow samples, which always land inside.
    """

    low: np.ndarray
    high: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> LogitScaler:
        x = np.asarray(x, dtype=np.float64)
        low, high = x.min(axis=0), x.max(axis=0)
        # a constant feature gets a unit range (it maps to the middle of the interval)
        width = np.where(high > low, high - low, 1.0)
        high = low + width
        scaler = cls(low, high, np.zeros(x.shape[1]), np.ones(x.shape[1]))
        z = scaler._logit_part(x)
        std = z.std(axis=0)
        scaler.mean = z.mean(axis=0)
        scaler.scale = np.where(std > 0, std, 1.0)
        return scaler

    def _logit_part(self, x: np.ndarray) -> np.ndarray:
        u = (np.asarray(x, dtype=np.float64) - self.low) / (self.high - self.low)
        u = ALPHA + (1.0 - 2.0 * ALPHA) * np.clip(u, 0.0, 1.0)
        return _logit(u)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (self._logit_part(x) - self.mean) / self.scale

    def inverse(self, z: np.ndarray) -> np.ndarray:
        u = _sigmoid(np.asarray(z, dtype=np.float64) * self.scale + self.mean)
        u = np.clip((u - ALPHA) / (1.0 - 2.0 * ALPHA), 0.0, 1.0)
        return self.low + u * (self.high - self.low)


@dataclass
class LogStandardScaler:
    """log(m), standardised: the flow's condition."""

    mean: float
    scale: float

    @classmethod
    def fit(cls, m: np.ndarray) -> LogStandardScaler:
        lm = np.log(np.asarray(m, dtype=np.float64))
        std = float(lm.std())
        return cls(float(lm.mean()), std if std > 0 else 1.0)

    def transform(self, m: np.ndarray) -> np.ndarray:
        return (np.log(np.asarray(m, dtype=np.float64)) - self.mean) / self.scale
