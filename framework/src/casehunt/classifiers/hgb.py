"""Ensembles of histogram gradient-boosted trees.

Finke et al. (arXiv:2309.13111) showed that boosted decision trees match or beat neural
networks in weakly supervised resonant anomaly detection, train in seconds on a CPU and,
unlike networks, keep working when uninformative features are added. Their setup is the
base here: scikit-learn's HistGradientBoostingClassifier, 200 iterations, 31 leaves,
balanced classes, several models averaged. Early stopping is more patient than theirs
(BENCHMARK.md's reference implementation): a 20% validation split and 30 iterations
without improvement, against 50% and 10. With a few hundred signal events among tens of
thousands, half the events held out and a short patience stop the trees before they
find the signal; over five seeds of the development data the patient setting raised
CWoLa's max SIC at S/sqrt(B) = 1.5 from 4.2 to 6.9 and the IAD's from 6.3 to 8.0
(benchmarks/README.md). ``validation_fraction: 0.5, n_iter_no_change: 10`` restores
Finke et al.'s setting.

``feature_screen`` (off by default) first drops the features whose held-out permutation
importance, in an inner cross-validation of the training events, fails its rule
(casehunt.classifiers.screening). With ten noise features added at S/sqrt(B) = 3 and two
rounds of the ``positive`` rule, the IAD keeps 0.87 of its max SIC instead of 0.71 (two
seeds), and without noise the screen keeps every feature. At S/sqrt(B) = 2 it gains
little. ``fit(..., screen_reference=...)`` subtracts the importance of a problem without
signal; with CATHODE's ``screen_reference: sidebands`` it keeps a median 0.87 at 3 (six
seeds, 0.78-0.92, against 0.76 without a screen; plugins/cathode/README.md). It costs
about ten times the training.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from casehunt.classifiers.base import (
    OptionsMixin,
    balanced_weights,
    check_training_input,
    is_fraction,
    is_positive_int,
    is_positive_number,
    model_seeds,
)
from casehunt.classifiers.screening import SCREEN_RULES, Reference, Screen, screen_features


@dataclass(eq=False)
class HGBEnsemble(OptionsMixin):
    """The mean probability of `n_models` boosted-tree classifiers, each with its own seed.

    Each member draws its own validation split for early stopping, so the ensemble sees
    all training events and averaging reduces the variance of the small, weakly labelled
    samples these methods train on.
    """

    n_models: int = 3
    max_iter: int = 200
    max_leaf_nodes: int = 31
    learning_rate: float = 0.1
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0
    validation_fraction: float = 0.2
    n_iter_no_change: int = 30
    balanced: bool = True
    # OpenMP threads per fit; None uses every core. One is the default because the
    # histograms are parallel over features (a handful here), so more threads gain little,
    # and busy-waiting OpenMP threads slow down badly on a shared, busy machine.
    n_threads: int | None = 1
    # feature screening before the fit: None (off), "positive" or "one_se"; rounds,
    # inner folds and shuffles per feature of the screening
    feature_screen: str | None = None
    screen_rounds: int = 1
    screen_folds: int = 4
    screen_repeats: int = 5
    seed: int = 0
    models_: list[Any] = field(default_factory=list, init=False, repr=False)
    columns_: list[int] = field(default_factory=list, init=False, repr=False)
    screen_: Screen | None = field(default=None, init=False, repr=False)

    checks: ClassVar[dict[str, tuple[Any, str]]] = {
        "n_models": (is_positive_int, "a positive integer"),
        "max_iter": (is_positive_int, "a positive integer"),
        "max_leaf_nodes": (lambda v: is_positive_int(v) and v >= 2, "an integer >= 2"),
        "learning_rate": (is_positive_number, "a positive number"),
        "min_samples_leaf": (is_positive_int, "a positive integer"),
        "l2_regularization": (
            lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
            "a number >= 0",
        ),
        "validation_fraction": (is_fraction, "a number between 0 and 1"),
        "n_iter_no_change": (is_positive_int, "a positive integer"),
        "balanced": (lambda v: isinstance(v, bool), "true or false"),
        "n_threads": (lambda v: v is None or is_positive_int(v), "a positive integer or null"),
        "feature_screen": (
            lambda v: v is None or v in SCREEN_RULES,
            f"null or one of {', '.join(map(repr, SCREEN_RULES))}",
        ),
        "screen_rounds": (is_positive_int, "a positive integer"),
        "screen_folds": (lambda v: is_positive_int(v) and v >= 2, "an integer >= 2"),
        "screen_repeats": (is_positive_int, "a positive integer"),
    }

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        screen_reference: Reference | None = None,
    ) -> HGBEnsemble:
        """Fit the ensemble; with `feature_screen`, on the columns that survive it.

        `screen_reference` (features, labels, weights) is a problem without signal whose
        importance the screen subtracts (casehunt.classifiers.screening); it is ignored
        without a screen.
        """
        from sklearn.ensemble import HistGradientBoostingClassifier
        from threadpoolctl import threadpool_limits

        X, y, sample_weight = check_training_input(X, y, sample_weight)
        self.columns_ = list(range(X.shape[1]))
        self.screen_ = None
        if self.feature_screen is not None:
            if screen_reference is not None:
                screen_reference = check_training_input(*screen_reference)
            inner = model_seeds(self.seed + 1, self.screen_folds)
            self.screen_ = screen_features(
                lambda i: replace(self, feature_screen=None, seed=inner[i]),
                X, y, sample_weight,
                rule=self.feature_screen, rounds=self.screen_rounds,
                n_folds=self.screen_folds, repeats=self.screen_repeats, seed=self.seed,
                reference=screen_reference,
            )  # fmt: skip
            self.columns_ = self.screen_.columns
            X = X[:, self.columns_]
        # Balancing through sample weights (not class_weight="balanced") so that given
        # event weights enter the class totals; sklearn splits the weights with the events.
        w = balanced_weights(y, sample_weight) if self.balanced else sample_weight
        self.models_ = []
        for model_seed in model_seeds(self.seed, self.n_models):
            model = HistGradientBoostingClassifier(
                max_iter=self.max_iter,
                max_leaf_nodes=self.max_leaf_nodes,
                learning_rate=self.learning_rate,
                min_samples_leaf=self.min_samples_leaf,
                l2_regularization=self.l2_regularization,
                early_stopping=True,
                validation_fraction=self.validation_fraction,
                n_iter_no_change=self.n_iter_no_change,
                random_state=model_seed % 2**32,
            )
            with threadpool_limits(self.n_threads, user_api="openmp"):
                model.fit(X, y, sample_weight=w)
            self.models_.append(model)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        if not self.models_:
            raise RuntimeError("HGBEnsemble.predict called before fit")
        from threadpoolctl import threadpool_limits

        X = np.asarray(X, dtype=np.float64)
        if self.feature_screen is not None:
            X = X[:, self.columns_]
        with threadpool_limits(self.n_threads, user_api="openmp"):
            return np.mean([m.predict_proba(X)[:, 1] for m in self.models_], axis=0)
