"""Which jet does the VAE flag? Per-jet and per-event AUC and max SIC on the benchmark splits.

Trains the jet VAE (casehunt_vae.vae.JetVAE, the method's defaults otherwise) on the jets
of the development data's background split (benchmarks/protocol.py, BENCHMARK.md),
scores the signal-region background and the test signal, and prints, for each latent
size, the AUC and max SIC (>= 25 background events) of the heavier jet's score, the
lighter jet's, and the two event scores of the method (`event_score: min` and `max`).
Then the mean and spread of each input feature, per jet, for background and signal:
what the autoencoder has to see.

    .venv/bin/python plugins/vae/scripts/jet_auc.py --latent 1,2,4
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

import protocol as P

from casehunt.features import resolve_features
from casehunt_vae.vae import JetVAE, VAEConfig, flat_rows


def mass_ordered(x: np.ndarray) -> np.ndarray:
    """(N, 2, F) jets with the heavier (first feature, the soft-drop mass) first."""
    order = np.argsort(-x[:, :, 0], axis=1)
    return np.take_along_axis(x, order[:, :, None], axis=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=P.DEFAULT_DATA_DIR)
    p.add_argument("--latent", default="1,2,4", help="latent sizes, comma-separated")
    p.add_argument("--features", default="case_jet", help="per-jet feature set")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    splits = P.load_splits(args.data_dir)
    fs = resolve_features(args.features)
    train_rows = flat_rows(fs.jet_matrix(splits.data_background))
    background = mass_ordered(
        fs.jet_matrix(splits.data_background.take(P.in_sr(splits.data_background)))
    )
    signal = mass_ordered(fs.jet_matrix(splits.test_signal.take(P.in_sr(splits.test_signal))))
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(train_rows))
    n_valid = len(order) // 4

    results = []
    for latent in (int(v) for v in args.latent.split(",")):
        config = VAEConfig(
            latent_dim=latent,
            hidden=(32, 16),
            epochs=30,
            batch_size=256,
            learning_rate=1e-3,
            patience=4,
            beta=0.5,
        )
        vae = JetVAE(config, seed=args.seed)
        vae.fit(train_rows[order[n_valid:]], train_rows[order[:n_valid]])
        b = vae.score(flat_rows(background)).reshape(-1, 2)
        s = vae.score(flat_rows(signal)).reshape(-1, 2)
        for name, bs, ss in (
            ("heavier jet", b[:, 0], s[:, 0]),
            ("lighter jet", b[:, 1], s[:, 1]),
            ("event min", b.min(axis=1), s.min(axis=1)),
            ("event max", b.max(axis=1), s.max(axis=1)),
        ):
            row = {
                "latent": latent,
                "score": name,
                "auc": round(P.auc(bs, ss), 3),
                "max_sic": round(P.max_sic(bs, ss), 2),
            }
            results.append(row)
            print(json.dumps(row), flush=True)
    for k, column in enumerate(fs.columns):
        for j, jet in enumerate(("heavier", "lighter")):
            print(
                f"{column:12s} {jet}: background {background[:, j, k].mean():9.3f} "
                f"+- {background[:, j, k].std():8.3f}   signal {signal[:, j, k].mean():9.3f} "
                f"+- {signal[:, j, k].std():8.3f}"
            )


if __name__ == "__main__":
    main()
