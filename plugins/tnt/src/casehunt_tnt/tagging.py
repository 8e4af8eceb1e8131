"""The tagging step of Tag N' Train: each jet is labelled by the other jet's tagger.

Amram and Suarez (arXiv:2002.12376): in a dijet resonance the two jets of a
signal event are both signal-like, while in QCD the substructure of the two jets is
nearly independent. Cutting on jet B's anomaly score therefore enriches jet A's sample
in signal without biasing jet A's own features, and a classifier trained on jet A to
tell the tagged from the anti-tagged sample learns signal against background (CWoLa,
arXiv:1708.02949). CASE (arXiv:2412.03747) combined the tag with the mjj window:
signal-rich = other jet's percentile > 80 and the event in the signal region;
background-rich = other jet's percentile < 50 or the event in the sidebands.
"""

from __future__ import annotations

import numpy as np

#: row labels: signal-rich, background-rich, not used
SIGNAL_RICH, BACKGROUND_RICH, UNUSED = 1, 0, -1


def percentile_rank(values: np.ndarray) -> np.ndarray:
    """Each value's percentile (0-100) within `values`, mid-rank for ties, per column.

    `values` (N,) or (N, 2): with two columns (the two jets in mass order) each jet is
    ranked among the jets in the same position, so that a cut at the 80th percentile tags
    20% of the heavier and 20% of the lighter jets even if the score prefers one of them;
    otherwise the signal-rich sample would be one kind of jet and the classifier would
    learn which kind rather than signal.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        ordered = np.sort(v)
        below = np.searchsorted(ordered, v, side="left")
        upto = np.searchsorted(ordered, v, side="right")
        return 100.0 * (below + upto) / (2.0 * len(v))
    return np.stack([percentile_rank(v[:, j]) for j in range(v.shape[1])], axis=1)


def tag_labels(
    percentile: np.ndarray,
    in_signal_region: np.ndarray,
    in_sideband: np.ndarray,
    signal_rich: float,
    background_rich: float,
) -> np.ndarray:
    """(N, 2) labels of each jet from the tagger percentile of the *other* jet (CASE).

    Jet a of an event is signal-rich (1) when the other jet's percentile is above
    `signal_rich` and the event is in the signal region, background-rich (0) when the
    other jet's percentile is below `background_rich` or the event is in the sidebands,
    and unused (-1) otherwise (signal-region events with the other jet in between, and
    events outside the region).
    """
    pct = np.asarray(percentile, dtype=np.float64)
    other = pct[:, ::-1]  # column a holds the percentile of jet 1 - a
    sr = np.asarray(in_signal_region, dtype=bool)[:, None]
    sb = np.asarray(in_sideband, dtype=bool)[:, None]
    labels = np.full(pct.shape, UNUSED, dtype=np.int64)
    labels[sr & (other < background_rich)] = BACKGROUND_RICH
    labels[np.broadcast_to(sb, pct.shape)] = BACKGROUND_RICH
    labels[sr & (other > signal_rich)] = SIGNAL_RICH
    return labels
