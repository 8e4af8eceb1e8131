#!/usr/bin/env python
"""Can the weakly supervised classifier itself tell the noise features from the real ones?

`noise_marginals.py` showed that no single feature's distribution gives the signal away at
S/sqrt(B) = 2. A classifier sees the joint distribution, so this script tries the next
step: permutation importance of the data-vs-template classifier on held-out events. The
IAD (BENCHMARK.md's protocol, ``protocol.py``) is run with a screening stage nested in its
folds: for the models that score fold k, an inner cross-validation over the other folds
(data and template both split) measures, for every feature, how much the balanced log
loss on the inner held-out events grows when that feature is shuffled. A rule keeps
features from these importances; the final models train on the kept features only. Fold
k's events never enter its own screening, and no truth label enters any of it (labels
only evaluate the max SIC).

The importance and the rules are the core's (``casehunt.classifiers.screening``, the
boosted-tree backend's ``feature_screen`` option), here nested in the IAD's own folds so
that one importance pass per fold serves every rule: ``all`` (no screening),
``positive`` (mean importance over the inner folds above 0), ``one_se`` (above one
standard error of that mean), ``positive_twice`` (``positive`` again on the features the
first round kept; the backend's ``screen_rounds: 2``).

    .venv/bin/python benchmarks/noise_importance.py --point 2 --seeds 0,1,5 --variants noise10,baseline
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import protocol as P
import suite

from casehunt.classifiers import balanced_weights, make_classifier
from casehunt.classifiers.screening import SCREEN_RULES, keep_by_rule, permutation_importance
from casehunt.folds import assign_folds
from casehunt.kfold import fold_seed

RULES = ("all", *SCREEN_RULES, "positive_twice")  # the last: the core's screen_rounds: 2


def two_class(ones: np.ndarray, zeros: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([ones, zeros]), np.r_[np.ones(len(ones)), np.zeros(len(zeros))]


def inner_importance(
    data: np.ndarray,
    template: np.ndarray,
    folds: np.ndarray,
    t_folds: np.ndarray,
    k: int,
    cols: list[int],
    *,
    options: dict[str, Any],
    seed: int,
    rng: np.random.Generator,
    repeats: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean importance of `cols` over inner folds i != k, and its standard error."""
    inner = []
    for i in (i for i in range(folds.max() + 1) if i != k):
        d_train = (folds != k) & (folds != i)
        t_train = (t_folds != k) & (t_folds != i)
        model = make_classifier("hgb", options, seed=fold_seed(seed, 100 * k + i))
        model.fit(*two_class(data[d_train][:, cols], template[t_train][:, cols]))
        X, y = two_class(data[folds == i][:, cols], template[t_folds == i][:, cols])
        inner.append(permutation_importance(model, X, y, balanced_weights(y), rng, repeats))
    imp = np.array(inner)
    return imp.mean(0), imp.std(0, ddof=1) / np.sqrt(len(imp))


def screened_iad(
    data: np.ndarray,
    template: np.ndarray,
    test: np.ndarray,
    *,
    options: dict[str, Any],
    n_folds: int,
    seed: int,
    repeats: int,
) -> dict[str, Any]:
    """Out-of-fold data scores and test scores of the IAD under every rule, and the kept sets."""
    folds = assign_folds(len(data), n_folds, seed)
    t_folds = assign_folds(len(template), n_folds, seed + 1)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    scores = {r: (np.empty(len(data)), np.zeros(len(test))) for r in RULES}
    kept: dict[str, list[list[int]]] = {r: [] for r in RULES}
    importances = []
    every = list(range(data.shape[1]))
    for k in range(n_folds):
        importance = partial(
            inner_importance, data, template, folds, t_folds, k,
            options=options, seed=seed, rng=rng, repeats=repeats,
        )  # fmt: skip
        mean, se = importance(every)
        importances.append(mean.tolist())
        choice = {"all": every}
        for rule in SCREEN_RULES:
            choice[rule] = keep_by_rule(mean, se, rule).tolist()
        # a second round on the survivors of the first: fewer noise columns to hide behind
        first = choice["positive"]
        mean2, se2 = importance(first)
        choice["positive_twice"] = [first[j] for j in keep_by_rule(mean2, se2, "positive")]
        trained: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}
        for rule, cols in choice.items():
            key = tuple(cols)
            if key not in trained:
                model = make_classifier("hgb", options, seed=fold_seed(seed, k))
                model.fit(*two_class(data[folds != k][:, cols], template[:, cols]))
                trained[key] = (
                    model.predict(data[folds == k][:, cols]),
                    model.predict(test[:, cols]),
                )
            scores[rule][0][folds == k] = trained[key][0]
            scores[rule][1][:] += trained[key][1] / n_folds
            kept[rule].append(cols)
    return {"scores": scores, "kept": kept, "importance": importances}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=P.DEFAULT_DATA_DIR)
    p.add_argument("--point", type=float, default=2.0, help="S/sqrt(B) in the signal region")
    p.add_argument("--seeds", default="0,1,5", help="comma-separated")
    p.add_argument("--variants", type=suite.name_list, default=["noise10", "baseline"])
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=5, help="shuffles per feature")
    p.add_argument(
        "--options",
        type=json.loads,
        default={"n_models": 3, "validation_fraction": 0.2, "n_iter_no_change": 30},
        help="HGB ensemble options (default: 3 models, stopping on 20%% with patience 30)",
    )
    p.add_argument(
        "--output",
        type=Path,
        default=P.REPO_ROOT / "benchmarks" / "output" / "noise_importance.json",
    )
    args = p.parse_args()
    base = P.load_splits(args.data_dir)
    rows = []
    for variant in args.variants:
        splits = suite.variant_splits(base, variant)
        features = suite.variant_features(argparse.Namespace(features="lhco"), variant)
        template = P.feature_matrix(features, splits.template.take(P.in_sr(splits.template)))
        test = P.feature_matrix(features, splits.test_signal.take(P.in_sr(splits.test_signal)))
        for seed in (int(s) for s in args.seeds.split(",")):
            t0 = time.perf_counter()
            events, labels, _ = suite.injected(splits, args.point, seed)
            sr = P.in_sr(events)
            out = screened_iad(
                P.feature_matrix(features, events.take(sr)),
                template,
                test,
                options=args.options,
                n_folds=args.folds,
                seed=seed,
                repeats=args.repeats,
            )
            background = labels[sr] == 0
            row = {
                "variant": variant,
                "seed": seed,
                "columns": list(features.columns),
                "max_sic": {r: P.max_sic(d[background], t) for r, (d, t) in out["scores"].items()},
                "kept": out["kept"],
                "importance": out["importance"],
                "wall_s": time.perf_counter() - t0,
            }
            rows.append(row)
            sics = ", ".join(f"{r} {v:.2f}" for r, v in row["max_sic"].items())
            print(f"{variant} seed {seed}: max SIC {sics} ({row['wall_s']:.0f} s)", flush=True)
            for rule in ("positive", "one_se", "positive_twice"):
                print(f"  {rule} kept per fold: {row['kept'][rule]}", flush=True)

    print("\n| variant | seed | " + " | ".join(RULES) + " | real / noise features kept per fold |")
    print("|---|---|" + "---|" * len(RULES) + "---|")
    for row in rows:
        n_real = sum(not c.startswith("noise_") for c in row["columns"])
        counts = {
            rule: " ".join(
                f"{sum(j < n_real for j in k)}/{sum(j >= n_real for j in k)}"
                for k in row["kept"][rule]
            )
            for rule in ("positive", "positive_twice")
        }
        cells = " | ".join(f"{row['max_sic'][r]:.2f}" for r in RULES)
        print(f"| {row['variant']} | {row['seed']} | {cells} | {counts} |")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    args.output.write_text(json.dumps({"config": config, "rows": rows}, indent=1))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
