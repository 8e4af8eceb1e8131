"""How well the sideband flow models the signal-region background of the development data.

Trains CATHODE's flow on the sidebands of one fold (4/5 of the background-only data), samples
the signal region, and measures the AUC of a boosted-tree classifier (2-fold cross-validated)
that separates the true signal-region background from the samples: 0.5 is a perfect
background model; what the classifier can learn here it will also learn on real data,
diluting a signal.

    python plugins/cathode/scripts/flow_quality.py --sidebands wide --options '{"flow_type": "nsf"}'
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import devdata
from measure_sic import SIDEBANDS
from sklearn.metrics import roc_auc_score

from casehunt.classifiers import make_classifier
from casehunt.folds import assign_folds
from casehunt.methods import TrainingData
from casehunt.regions import SignalRegion
from casehunt_cathode import CATHODE
from casehunt_cathode.method import kde_sample


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sidebands", choices=sorted(SIDEBANDS), default="wide")
    ap.add_argument("--options", default="{}")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    options = json.loads(args.options)
    bkg = devdata.load("qcd", 0, 300_000)
    region = SignalRegion(3300.0, 3700.0, *SIDEBANDS[args.sidebands])
    m = np.asarray(bkg["mjj"])
    folds = assign_folds(bkg.n_events, 5, 0)
    train = (folds != 0) & region.in_region(m)
    t0 = time.perf_counter()
    method = CATHODE({**options, "n_models": 1}, seed=0)
    data = TrainingData.for_region(bkg.take(train), region)
    # only the flow: fit it as CATHODE does, without the classifier stage
    from casehunt_cathode.flow import ConditionalFlow, torch_threads
    from casehunt_cathode.preprocessing import LogitScaler, LogStandardScaler

    x = method._features(data.events)
    msb = np.asarray(data.events["mjj"], float)[data.in_sideband]
    method.scaler_ = LogitScaler.fit(x[data.in_sideband])
    method.condition_ = LogStandardScaler.fit(msb)
    method.flow_ = ConditionalFlow(method.flow_config, seed=1, progress=method.options["progress"])
    with torch_threads(method.options["threads"]):
        method.flow_.fit(
            method.scaler_.transform(x[data.in_sideband]), method.condition_.transform(msb)
        )
    t_flow = time.perf_counter() - t0
    x_sr = x[data.in_signal_region]
    m_sr = np.asarray(data.events["mjj"], float)[data.in_signal_region]
    samples = method.sample_features(kde_sample(m_sr, 4 * len(x_sr), 3300.0, 3700.0, 2), seed=3)
    X = np.vstack([x_sr, samples])
    y = np.concatenate([np.ones(len(x_sr)), np.zeros(len(samples))]).astype(int)
    half = np.random.default_rng(0).random(len(y)) < 0.5
    aucs = []
    for a, b in ((half, ~half), (~half, half)):
        clf = make_classifier("hgb", {"n_models": 1}, seed=0).fit(X[a], y[a])
        aucs.append(roc_auc_score(y[b], clf.predict(X[b])))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "sidebands": args.sidebands,
        "options": options,
        "n_sideband": len(msb),
        "auc_data_vs_samples": float(np.mean(aucs)),
        "flow_s": t_flow,
        "best_epochs": [ep for _, ep, _ in method.flow_.best_],
        "best_valid": [round(v, 4) for v, _, _ in method.flow_.best_],
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "mean_diff_over_std": ((samples.mean(0) - x_sr.mean(0)) / x_sr.std(0)).round(3).tolist(),
    }
    print(json.dumps(result))
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
