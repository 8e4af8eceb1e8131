"""A minimal, working selection method: distance from the sideband feature density.

It fits a multivariate Gaussian to the features of the sideband events and scores an
event by its Mahalanobis distance from it: events unlike the background of the
neighbouring mass bins score high. Simple and fast; it shows every part of the method
contract a real method needs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from casehunt.events import EventTable
from casehunt.features import resolve_features
from casehunt.methods import SelectionMethod, TrainingData
from casehunt.options import number_at_least


class SidebandGaussian(SelectionMethod):
    """Mahalanobis distance from a Gaussian fitted to the sideband features."""

    name = "template"
    training = "per_region"
    description = "Mahalanobis distance from the sideband feature density (plugin template)"
    inputs = frozenset({"mj2", "delta_mj", "tau21_j1", "tau21_j2"})
    default_options: ClassVar[dict[str, Any]] = {"features": "lhco", "shrinkage": 1e-3}

    def __init__(self, options: dict[str, Any] | None = None, seed: int = 0) -> None:
        super().__init__(options, seed)
        self.features = resolve_features(self.options["features"])
        # a bad value fails here, naming the option, not in the middle of a run
        self.shrinkage = number_at_least(self.options, "shrinkage", self.name, 0)
        self.mean: np.ndarray | None = None
        self.precision: np.ndarray | None = None
        self.n_reference_ = 0

    def required_columns(self) -> frozenset[str]:
        return frozenset(self.features.columns)

    def fit(self, data: TrainingData) -> None:
        x = self.features.event_matrix(data.events)
        reference = x[data.in_sideband] if data.in_sideband.any() else x
        self.mean = reference.mean(axis=0)
        cov = np.atleast_2d(np.cov(reference, rowvar=False))
        # shrink towards the diagonal so a near-singular covariance stays invertible
        cov += self.shrinkage * np.diag(np.diag(cov)) + 1e-12 * np.eye(len(cov))
        self.precision = np.linalg.inv(cov)
        self.n_reference_ = len(reference)

    def fit_summary(self) -> dict[str, Any]:
        # optional: a small JSON record of the fit, kept per fold in summary.json
        return {} if self.mean is None else {"reference_events": self.n_reference_}

    def score(self, events: EventTable) -> np.ndarray:
        if self.mean is None or self.precision is None:
            raise RuntimeError("fit the method before scoring")
        d = self.features.event_matrix(events) - self.mean
        return np.einsum("ij,jk,ik->i", d, self.precision, d)
