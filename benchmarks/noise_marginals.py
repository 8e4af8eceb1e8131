#!/usr/bin/env python
"""Can the noise features be told apart from the real ones one at a time?

A method could drop irrelevant features before training if the signal showed in each
relevant feature's own distribution. This script tests that on the benchmark splits
(``protocol.py``): for every feature of the ``noise10`` variant, a chi-square test of
homogeneity between the signal-region data (signal injected at S/sqrt(B)) and the
background template, in quantile bins of the pooled sample. It prints one p-value per
feature, point, seed and binning. No training, no labels.

    .venv/bin/python benchmarks/noise_marginals.py --points 2,1,0 --seeds 0,1,2 --bins 10,20,40
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import chi2_contingency

sys.path.insert(0, str(Path(__file__).resolve().parent))

import protocol as P
import suite

from casehunt.features import features_with_noise, resolve_features


def homogeneity_p(a: np.ndarray, b: np.ndarray, n_bins: int) -> float:
    """p-value that samples `a` and `b` share one distribution (chi2, quantile bins)."""
    edges = np.unique(np.quantile(np.concatenate([a, b]), np.linspace(0, 1, n_bins + 1)))
    counts = [np.histogram(x, edges)[0] for x in (a, b)]
    return float(chi2_contingency(np.vstack(counts))[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=P.DEFAULT_DATA_DIR)
    ap.add_argument("--points", type=suite.float_list, default=[2.0, 1.0, 0.0])
    ap.add_argument("--seeds", default="0,1,2", help="injection seeds, comma-separated")
    ap.add_argument("--bins", default="10,20,40", help="numbers of quantile bins")
    ap.add_argument("--noise", type=int, default=10, help="noise features")
    args = ap.parse_args()

    splits = suite.variant_splits(P.load_splits(args.data_dir), f"noise{args.noise}")
    features = features_with_noise(resolve_features("lhco"), args.noise)
    template = P.feature_matrix(features, splits.template.take(P.in_sr(splits.template)))
    print("| S/sqrt(B) | seed | bins | " + " | ".join(features.columns) + " |")
    print("|---" * (3 + len(features.columns)) + "|")
    for point in args.points:
        for seed in (int(s) for s in args.seeds.split(",")):
            events, _, _ = suite.injected(splits, point, seed)
            data = P.feature_matrix(features, events.take(P.in_sr(events)))
            for n_bins in (int(b) for b in args.bins.split(",")):
                p = [homogeneity_p(data[:, j], template[:, j], n_bins)
                     for j in range(data.shape[1])]  # fmt: skip
                cells = " | ".join(f"{v:.2g}" for v in p)
                print(f"| {point:g} | {seed} | {n_bins} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
