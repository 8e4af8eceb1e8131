"""Is the jet VAE the weak link? Two bounds for per-jet scores on the benchmark splits.

1. An explicit density of QCD jets (a Gaussian mixture of the standardised per-jet
   features, fitted on half of the development background's jets): -log p of a jet is
   the outlier score a perfect jet autoencoder would approach.
2. A supervised classifier per jet and for both jets (boosted trees trained on the
   other half of the background against the signal pool, truth labels: evaluation
   only): how much the per-jet features know about this signal at all.

Both are scored on the held-out signal-region background and the test signal, jets in
mass order, with AUC and max SIC (>= 25 background events) as ``jet_auc.py``.

    .venv/bin/python plugins/vae/scripts/jet_bounds.py --components 10,40
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.mixture import GaussianMixture

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

import protocol as P
from jet_auc import mass_ordered  # the sibling script: jets in mass order, the same way

from casehunt.features import resolve_features
from casehunt_vae.vae import flat_rows


def report(kind: str, name: str, b: np.ndarray, s: np.ndarray) -> None:
    row = {"bound": kind, "score": name, "auc": round(P.auc(b, s), 3),
           "max_sic": round(P.max_sic(b, s), 2)}  # fmt: skip
    print(json.dumps(row), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=P.DEFAULT_DATA_DIR)
    p.add_argument("--components", default="10,40", help="mixture sizes, comma-separated")
    p.add_argument("--features", default="case_jet", help="per-jet feature set")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    splits = P.load_splits(args.data_dir)
    fs = resolve_features(args.features)
    jets = fs.jet_matrix(splits.data_background)
    in_sr = P.in_sr(splits.data_background)
    first = np.random.default_rng(args.seed).random(len(jets)) < 0.5
    background = mass_ordered(jets[~first & in_sr])
    signal = mass_ordered(fs.jet_matrix(splits.test_signal.take(P.in_sr(splits.test_signal))))

    rows = flat_rows(jets[first])
    mean, std = rows.mean(axis=0), rows.std(axis=0)
    for k in (int(v) for v in args.components.split(",")):
        gm = GaussianMixture(k, covariance_type="full", max_iter=200, random_state=args.seed)
        gm.fit((rows - mean) / std)
        b, s = (
            -gm.score_samples((flat_rows(x) - mean) / std).reshape(-1, 2)
            for x in (background, signal)
        )
        kind = f"density, {k} components"
        report(kind, "heavier jet", b[:, 0], s[:, 0])
        report(kind, "lighter jet", b[:, 1], s[:, 1])
        report(kind, "event min", b.min(axis=1), s.min(axis=1))
        report(kind, "event sum", b.sum(axis=1), s.sum(axis=1))

    train_b = mass_ordered(jets[first & in_sr])
    pool = mass_ordered(fs.jet_matrix(splits.signal_pool.take(P.in_sr(splits.signal_pool))))
    labels = np.r_[np.zeros(len(train_b)), np.ones(len(pool))]
    for name, pick in (
        ("heavier jet", lambda x: x[:, 0]),
        ("lighter jet", lambda x: x[:, 1]),
        ("both jets", lambda x: x.reshape(len(x), -1)),
    ):
        clf = HistGradientBoostingClassifier(random_state=args.seed)
        clf.fit(np.concatenate([pick(train_b), pick(pool)]), labels)
        b, s = (clf.predict_proba(pick(x))[:, 1] for x in (background, signal))
        report("supervised", name, b, s)


if __name__ == "__main__":
    main()
