"""SALAD: simulation assisted likelihood-free anomaly detection (arXiv:2001.05001).

Andreassen, Nachman and Shih start from a background simulation that is good but not
perfect and correct it with data where no signal is expected (Sec. 2):

1. A classifier f(x, m) learns sideband data (label 1) against sideband simulation
   (label 0). The resonant feature m is an input, so f is parameterised in m and
   interpolates into the signal region.
2. The simulation is reweighted with w(x, m) = f / (1 - f): with balanced classes the
   optimal f is p_data / (p_data + p_sim), so w is the likelihood ratio that morphs the
   simulation into data (the DCTR procedure, arXiv:1907.08209, Sec. 2).
3. In the signal region a second classifier learns data (1) against the reweighted
   simulation (0) on x alone; data with a signal differ from the reweighted background
   only by the signal, so its output is the anomaly score (Sec. 2 and, for the LHC
   Olympics dijets with mj1, delta-mj and the tau21 of both jets, Sec. 3).

The core k-folds the data; the simulation is the same for every fold (it never is the
test sample). Features are configuration as for CWoLa (``casehunt.features``),
event-level only; the classifiers are the shared backends of ``casehunt.classifiers``,
both of which take the DCTR weights as sample weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from casehunt.classifiers import classifier_spec, make_classifier
from casehunt.errors import ConfigError, InputError, RegionError
from casehunt.events import EventTable, check_finite
from casehunt.features import LHCO, event_features_option
from casehunt.methods import SelectionMethod, TrainingData
from casehunt.regions import SignalRegion
from casehunt_salad.simulation import check_simulation_path, read_simulation

#: seeds of the two classifiers are drawn from (method seed, stage)
REWEIGHT_STAGE, SEARCH_STAGE = 1, 2
#: the reweighting classifier's options by backend when none are given: smoother boosted
#: trees (bigger leaves, fewer of them, smaller steps). On the development data with a
#: few thousand simulated sideband events the plain settings fitted the simulation's
#: fluctuations (held-out chi2/ndf of f(x, m) 4.2 reweighted, 0.6 unweighted); these 1.2.
REWEIGHTING_DEFAULTS: dict[str, dict[str, Any]] = {
    "hgb": {"min_samples_leaf": 200, "max_leaf_nodes": 15, "learning_rate": 0.05},
}


class SALAD(SelectionMethod):
    """Per signal region: sideband reweighting of a simulation, then data against it."""

    name: ClassVar[str] = "salad"
    training = "per_region"
    inputs: ClassVar[frozenset[str]] = frozenset(LHCO.columns)
    description: ClassVar[str] = (
        "SALAD: simulation reweighted to data in the sidebands (parameterised in m), then "
        "data against reweighted simulation in the signal region (arXiv:2001.05001)"
    )
    default_options: ClassVar[Mapping[str, Any]] = {
        # the background simulation: a file in the development-data layout (required),
        # or an EventTable with the derived columns (tests, notebooks), used as given
        "simulation": None,
        # apply the default CASE preselection to the simulation file (data passed it too)
        "simulation_preselection": True,
        # use at most this many simulated events (null: all), a random subset from the seed
        "simulation_max_events": None,
        # an event-level feature set ("lhco", "lhco_extended") or a list of columns
        "features": "lhco",
        # a backend of casehunt.classifiers, for both classifiers: "hgb" or "mlp"
        "classifier": "hgb",
        # ensemble size of each classifier inside each fold
        "n_models": 3,
        # passed to the classifier backend (both classifiers)
        "classifier_options": {},
        # merged over `classifier_options` for the reweighting classifier only (null: the
        # backend's REWEIGHTING_DEFAULTS): with balanced classes its effective sample is
        # the smaller one (often the simulation), and a density ratio fitted to that
        # sample's fluctuations reweights noise in
        "reweighting_classifier_options": None,
        # DCTR weights above this are clipped: f near 1 on a few simulated events would
        # otherwise let them dominate the signal-region training
        "max_weight": 20.0,
    }

    def __init__(self, options: Mapping[str, Any] | None = None, seed: int = 0) -> None:
        super().__init__(options, seed)
        self.feature_set = event_features_option(self.options["features"], "salad")
        self._classifier_args = classifier_spec(self.name, self.options)  # fails now
        self._reweighter_args = _reweighter_spec(self.name, self.options)
        self._check_simulation_options()
        self.reweighter_: Any = None
        self.classifier_: Any = None
        #: the signal-region simulation with its weights, kept for diagnostics
        self.simulation_sr_weights_: np.ndarray | None = None

    def required_columns(self) -> frozenset[str]:
        return frozenset(self.feature_set.columns)

    # Training -------------------------------------------------------------------------------

    def fit(self, data: TrainingData) -> None:
        """Reweight the simulation in the sidebands, then train data against it in the SR."""
        region = data.region
        if region is None:
            raise RegionError("salad: needs a signal region and sidebands (per-region training)")
        in_sr = np.asarray(data.in_signal_region, dtype=bool)
        in_sb = np.asarray(data.in_sideband, dtype=bool)
        sim = self.simulation()
        m_sim = np.asarray(sim[data.resonant_feature], dtype=np.float64)
        sim_sr, sim_sb = region.in_signal_region(m_sim), region.in_sideband(m_sim)
        _check_counts(region, in_sr, in_sb, sim_sr, sim_sb)
        m_data = np.asarray(data.events[data.resonant_feature], dtype=np.float64)
        x_data = self._features(data.events)
        x_sim = self._features(sim)

        # 1. f(x, m): sideband data (1) against sideband simulation (0) (Sec. 2)
        X = np.concatenate(
            [_with_m(x_data[in_sb], m_data[in_sb]), _with_m(x_sim[sim_sb], m_sim[sim_sb])]
        )
        y = np.concatenate([np.ones(int(in_sb.sum())), np.zeros(int(sim_sb.sum()))])
        self.reweighter_ = make_classifier(*self._reweighter_args, seed=self._seed(REWEIGHT_STAGE))
        self.reweighter_.fit(X, y.astype(np.int64))

        # 2. w = f / (1 - f) on the signal-region simulation, interpolated in m (DCTR)
        w = self._weights(x_sim[sim_sr], m_sim[sim_sr])
        self.simulation_sr_weights_ = w

        # 3. signal-region data (1) against the reweighted simulation (0), on x only
        X = np.concatenate([x_data[in_sr], x_sim[sim_sr]])
        y = np.concatenate([np.ones(int(in_sr.sum())), np.zeros(int(sim_sr.sum()))])
        sample_weight = np.concatenate([np.ones(int(in_sr.sum())), w])
        self.classifier_ = make_classifier(*self._classifier_args, seed=self._seed(SEARCH_STAGE))
        self.classifier_.fit(X, y.astype(np.int64), sample_weight=sample_weight)

    def score(self, events: EventTable) -> np.ndarray:
        """The signal-region classifier's output: higher is less like reweighted background."""
        if self.classifier_ is None:
            raise RuntimeError("salad: score called before fit")
        return np.asarray(self.classifier_.predict(self._features(events)), dtype=np.float64)

    # Reweighting (public for closure checks) ------------------------------------------------

    def reweighting_output(self, events: EventTable, resonant_feature: str = "mjj") -> np.ndarray:
        """f(x, m) of the sideband classifier: near 0.5 where simulation matches data."""
        if self.reweighter_ is None:
            raise RuntimeError("salad: reweighting_output called before fit")
        m = np.asarray(events[resonant_feature], dtype=np.float64)
        return np.asarray(self.reweighter_.predict(_with_m(self._features(events), m)))

    def simulation_weights(self, events: EventTable, resonant_feature: str = "mjj") -> np.ndarray:
        """The DCTR weights w(x, m) = f / (1 - f), clipped at `max_weight`, of simulated events."""
        if self.reweighter_ is None:
            raise RuntimeError("salad: simulation_weights called before fit")
        m = np.asarray(events[resonant_feature], dtype=np.float64)
        return self._weights(self._features(events), m)

    def simulation(self) -> EventTable:
        """The simulated events this method reweights (read once per process)."""
        spec = self.options["simulation"]
        if isinstance(spec, EventTable):
            sim = spec
        else:
            sim = read_simulation(
                check_simulation_path(spec), self.options["simulation_preselection"]
            )
        missing = [c for c in self.feature_set.columns if c not in sim.columns]
        if missing:
            raise InputError(
                f"salad: the simulation has no column(s) {', '.join(map(repr, missing))} after "
                "the derived columns; it must be in the development-data layout"
            )
        limit = self.options["simulation_max_events"]
        if limit is not None and sim.n_events > limit:
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0]))
            sim = sim.take(np.sort(rng.choice(sim.n_events, limit, replace=False)))
        return sim

    # Helpers --------------------------------------------------------------------------------

    def _weights(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        f = np.asarray(self.reweighter_.predict(_with_m(x, m)), dtype=np.float64)
        f = np.clip(f, 1e-6, 1.0 - 1e-6)
        return np.minimum(f / (1.0 - f), float(self.options["max_weight"]))

    def _features(self, events: EventTable) -> np.ndarray:
        check_finite(events, self.feature_set.columns)
        return self.feature_set.event_matrix(events)

    def _seed(self, stage: int) -> int:
        return int(np.random.SeedSequence([self.seed, stage]).generate_state(1)[0])

    def _check_simulation_options(self) -> None:
        o = self.options
        spec = o["simulation"]
        if spec is None:
            raise ConfigError(
                "salad: option 'simulation' is required: a background simulation file in the "
                "development-data layout (e.g. made by `casehunt generate qcd`)"
            )
        if not isinstance(spec, (str, EventTable)) and not hasattr(spec, "__fspath__"):
            raise ConfigError(
                f"salad: option 'simulation' must be a file path or an EventTable, got {spec!r}"
            )
        if not isinstance(o["simulation_preselection"], bool):
            raise ConfigError(
                "salad: option 'simulation_preselection' must be true or false, "
                f"got {o['simulation_preselection']!r}"
            )
        limit = o["simulation_max_events"]
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise ConfigError(
                f"salad: option 'simulation_max_events' must be a positive integer or null, "
                f"got {limit!r}"
            )
        mw = o["max_weight"]
        if isinstance(mw, bool) or not isinstance(mw, (int, float)) or not mw > 0:
            raise ConfigError(f"salad: option 'max_weight' must be a positive number, got {mw!r}")


def _reweighter_spec(method: str, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The reweighting classifier's backend and options, checked now."""
    extra = options["reweighting_classifier_options"]
    if extra is None:
        extra = REWEIGHTING_DEFAULTS.get(options["classifier"], {})
    if not isinstance(extra, Mapping):
        raise ConfigError(
            f"{method}: option 'reweighting_classifier_options' must be a mapping, got {extra!r}"
        )
    merged = {**options, "classifier_options": {**options["classifier_options"], **extra}}
    try:
        return classifier_spec(method, merged)
    except ConfigError as exc:
        raise ConfigError(
            str(exc).replace("'classifier_options'", "'reweighting_classifier_options'")
        ) from None


def _with_m(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Features with the resonant feature appended: the reweighting is parameterised in m."""
    return np.column_stack([x, m])


def _check_counts(
    region: SignalRegion,
    in_sr: np.ndarray,
    in_sb: np.ndarray,
    sim_sr: np.ndarray,
    sim_sb: np.ndarray,
) -> None:
    counts = {
        "signal-region data": int(in_sr.sum()),
        "sideband data": int(in_sb.sum()),
        "signal-region simulation": int(sim_sr.sum()),
        "sideband simulation": int(sim_sb.sum()),
    }
    empty = [k for k, n in counts.items() if n == 0]
    if empty:
        got = ", ".join(f"{n} {k}" for k, n in counts.items())
        raise RegionError(
            f"salad: region {region.name} has {got} events; SALAD needs all four "
            "(check the window, the sidebands and the simulation's mjj range)"
        )
