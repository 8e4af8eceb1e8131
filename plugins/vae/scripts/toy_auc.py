"""How well VAE-QR separates toy signal from toy background, trained with and without signal.

The VAE is unsupervised: it trains on whatever the data hold. This trains it on toy
background alone and on toy background with a signal admixture, and evaluates on a
fresh labelled sample: AUC of the raw score (min over jets of reconstruction + 0.5 KL)
and of the calibrated score, and the signal efficiency at 1% background efficiency.

    .venv/bin/python plugins/vae/scripts/toy_auc.py --inputs constituents
    .venv/bin/python plugins/vae/scripts/toy_auc.py --inputs features
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from casehunt.methods import TrainingData
from casehunt.testing import toy_sample
from casehunt_vae import VAEQR


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    n1 = int(labels.sum())
    n0 = len(labels) - n1
    return float((ranks[labels == 1].sum() - n1 * (n1 + 1) / 2) / (n0 * n1))


def efficiency_at(scores: np.ndarray, labels: np.ndarray, eps_b: float) -> float:
    threshold = np.quantile(scores[labels == 0], 1 - eps_b)
    return float(np.mean(scores[labels == 1] > threshold))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", choices=("features", "constituents"), default="features")
    parser.add_argument("--background", type=int, default=40_000)
    parser.add_argument("--signal-fractions", default="0,0.02")
    parser.add_argument("--n-constituents", type=int, default=50)
    parser.add_argument("--options", default="{}", help="method options as JSON")
    args = parser.parse_args()

    toy = {"n_constituents": args.n_constituents} if args.inputs == "constituents" else {}
    options = {"inputs": args.inputs, "progress": False, **json.loads(args.options)}
    if args.inputs == "constituents":
        options.setdefault("n_constituents", args.n_constituents)
    test, labels = toy_sample(20_000, 5_000, seed=99, **toy)
    for fraction in (float(f) for f in args.signal_fractions.split(",")):
        n_signal = round(fraction * args.background)
        events, _ = toy_sample(args.background, n_signal, seed=1, **toy)
        t0 = time.perf_counter()
        method = VAEQR(options, seed=0)
        method.fit(TrainingData.for_region(events, None))
        fit_s = time.perf_counter() - t0
        raw, level = method.raw_scores(test), method.score(test)
        print(
            f"{args.inputs}: trained on {args.background} background + {n_signal} signal "
            f"({fit_s:.0f} s): AUC raw {auc(raw, labels):.3f}, calibrated "
            f"{auc(level, labels):.3f}; signal efficiency at 1% background: raw "
            f"{efficiency_at(raw, labels, 0.01):.3f}, calibrated "
            f"{efficiency_at(level, labels, 0.01):.3f}"
        )


if __name__ == "__main__":
    main()
