"""Per-jet inputs of Tag N' Train: the jets of each event in a fixed order.

The two jets are put in mass order (CASE, arXiv:2412.03747: j1 is the jet with the
larger soft-drop mass) the same way in fit and score, from the per-jet (N, 2) columns
(stored in pT order). With the default shared classifier and the event score q1 * q2
the order does not change any score; it matters for one classifier per jet (the
original paper's setup), where each classifier specialises in one jet of the pair.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from casehunt.events import EventTable, check_finite
from casehunt.features import FeatureSet


def jet_order(events: EventTable, order_by: str | None) -> np.ndarray:
    """(N, 2) indices into the stored jets: the jet with the larger `order_by` first.

    Ties keep the stored order (the same rule as the core's mass-ordered columns).
    """
    n = events.n_events
    if order_by is None:
        return np.tile(np.array([0, 1]), (n, 1))
    check_finite(events, [order_by])
    key = np.asarray(events[order_by], dtype=np.float64)
    if key.shape != (n, 2):
        raise ValueError(
            f"tnt: order_by column {order_by!r} has shape {key.shape}, expected (N, 2)"
        )
    first = np.where(key[:, 1] > key[:, 0], 1, 0)
    return np.stack([first, 1 - first], axis=1)


def jet_features(events: EventTable, features: FeatureSet, order: np.ndarray) -> np.ndarray:
    """(N, 2, F) per-jet features in the given jet order."""
    check_finite(events, features.columns)
    x = features.jet_matrix(events)
    return np.take_along_axis(x, order[:, :, None], axis=1)


#: columns the constituent inputs read
CONSTITUENT_COLUMNS = ("jet_const", "jet_pt", "jet_eta", "jet_phi")


def constituent_inputs(events: EventTable, m: int, order: np.ndarray) -> np.ndarray:
    """(N, 2, 3 m) inputs from each jet's `m` hardest constituents, relative to the jet axis.

    Per constituent: pT / jet pT, eta - jet eta, phi - jet phi (wrapped to [-pi, pi));
    missing constituents are zeros. The hardest-first order of the files is kept, so the
    vector is a fixed-length list of the jet's leading particles (as the particle-level
    inputs of the CASE VAE, arXiv:2412.03747).
    """
    padded = padded_constituents(events["jet_const"], m)  # (N, 2, m, 3): pt, eta, phi
    jet = {k: np.asarray(events[f"jet_{k}"], dtype=np.float64) for k in ("pt", "eta", "phi")}
    present = padded[..., 0] > 0
    rel_pt = np.divide(
        padded[..., 0],
        jet["pt"][..., None],
        out=np.zeros(padded.shape[:3]),
        where=jet["pt"][..., None] > 0,
    )
    d_eta = padded[..., 1] - jet["eta"][..., None]
    d_phi = np.mod(padded[..., 2] - jet["phi"][..., None] + np.pi, 2 * np.pi) - np.pi
    x = np.stack([rel_pt, d_eta, d_phi], axis=-1) * present[..., None]
    if not np.all(np.isfinite(x)):
        raise ValueError("tnt: constituent inputs are not finite; check jet_const and jet_pt")
    x = x.reshape(len(x), 2, 3 * m)
    return np.take_along_axis(x, order[:, :, None], axis=1)


def padded_constituents(column: Any, m: int) -> np.ndarray:
    """(N, 2, m, 3) float64 from the reader's jagged column or an already padded array."""
    if isinstance(column, np.ndarray):
        if column.ndim != 4 or column.shape[1] != 2 or column.shape[3] < 3:
            raise ValueError(
                f"tnt: jet_const has shape {column.shape}, expected (N, 2, M, 3) or jagged records"
            )
        out = np.zeros((len(column), 2, m, 3))
        k = min(m, column.shape[2])
        out[:, :, :k] = column[:, :, :k, :3]
        return out
    from casehunt.readers import padded_from_constituents

    return padded_from_constituents(column, m).astype(np.float64)
