"""Fast settings, toy signal priors and metrics shared by the QUAK tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from casehunt.toys import write_toy_file

#: tiny flows: about a second per fit on a shared CPU
FAST_FLOW: dict[str, Any] = {"transforms": 2, "hidden": [32, 32], "epochs": 8, "patience": 3}
FAST_OPTIONS: dict[str, Any] = {
    "background_flow": dict(FAST_FLOW),
    "prior_flow": {**FAST_FLOW, "epochs": 40, "patience": 5},
    "device": "cpu",
}
#: toy signal priors (3000 simulated signal events each): the injected toy signal (a
#: 500 GeV two-prong jet and a 100 GeV one), a two-prong signal 200 and 50 GeV off, and a
#: three-prong one
PRIOR_SPECS: dict[str, dict[str, Any]] = {
    "matching": {"seed": 101},
    "shifted": {"seed": 102, "mx": 300.0, "my": 150.0},
    "three_prong": {"seed": 103, "mx": 700.0, "my": 200.0, "x_prongs": 3},
}


def fast_options(**extra: Any) -> dict[str, Any]:
    """A fresh copy of FAST_OPTIONS (nested dicts too) updated with `extra`."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in FAST_OPTIONS.items()}
    out.update(extra)
    return out


def make_prior_files(directory: Path) -> dict[str, Path]:
    return {
        name: write_toy_file(directory / f"prior_{name}.h5", 3000, signal=True, **spec)
        for name, spec in PRIOR_SPECS.items()
    }


def max_sic(s_sig: np.ndarray, s_bkg: np.ndarray, min_bkg: int = 25) -> float:
    """max of eps_S / sqrt(eps_B) over thresholds that at least `min_bkg` background pass."""
    sb, ss = np.sort(s_bkg), np.sort(s_sig)
    thresholds = sb[: len(sb) - min_bkg + 1]
    eps_b = (len(sb) - np.searchsorted(sb, thresholds)) / len(sb)
    eps_s = (len(ss) - np.searchsorted(ss, thresholds)) / len(ss)
    return float(np.max(eps_s / np.sqrt(eps_b)))


def auc(s_sig: np.ndarray, s_bkg: np.ndarray) -> float:
    """P(signal outscores background), ties counted half."""
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([s_sig, s_bkg]))
    n_s, n_b = len(s_sig), len(s_bkg)
    return float((ranks[:n_s].sum() - n_s * (n_s + 1) / 2) / (n_s * n_b))
