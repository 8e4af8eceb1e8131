"""QUAK: quasi anomalous knowledge, with normalizing flows.

Park et al. (arXiv:2011.03550) place every event in a "QUAK space" whose axes are the
losses of density models trained on different hypotheses: one on background, one per
*signal prior*, a simulated signal that need not be the true one. Signal-like events sit
where the background loss is high and some signal loss is low; priors that share salient
features with the true signal (two-prong jets, a heavy jet) recover sensitivity even when
they are wrong in detail. CMS used it in the CASE search (arXiv:2412.03747): flow losses
for a background axis and several signal-prior axes; bins of that space ranked from
least to most populated in the sidebands, added until the signal-region count reaches a
target. Here, per signal region and fold (the core does the k-folding):

1. **Background axis.** A conditional flow (zuko NSF or MAF) learns p_b(x | mjj) on the
   sideband events of the training folds, as CATHODE does (arXiv:2109.00546, Sec. 3),
   so that it interpolates into the signal region. L_b = -log p_b(x | mjj).
2. **Signal axes.** One *unconditional* flow per prior learns p_k(x) on the prior's
   simulated events; L_k = -log p_k(x). Unconditional because a prior is simulated at
   one resonance mass but must serve every signal region: the features are jet masses
   and substructure of the two daughters, which are set by the daughters' masses (model
   parameters independent of the parent's), not by mjj; conditioning on mjj would
   extrapolate a density known at one mjj, and scaling the masses by mjj would assume
   daughters whose masses grow with the parent's. The jets are mass-ordered (``_j1``
   heavier), so a prior describes "a heavy and a light jet" whatever their pT order.
   The K signal axes are reduced to one (``signal_axis``): the best prior per event,
   L_s = min_k L_k (CASE's reduction), or the loss of the mixture of the priors,
   L_s = -log(mean_k p_k), which differs from the minimum by at most log K.
3. **Ranking (``score``).** The core selects the events whose score exceeds the (1 - eps)
   quantile of the sideband scores, so the method's whole selection is an ordering of
   the plane (L_b, L_s). CASE's ordering is "least populated in the sidebands first".
   Per-bin occupancy is not a well-defined order, though: it depends on the coordinates
   of the plane (in sideband-quantile coordinates it is the copula density, whose sparse
   bins are the corner of typical background unlike every prior: on toys this ordering
   gave the injected signal an AUC of 0.03-0.08 with two of three priors); in raw loss
   units it depends on an arbitrary range.
   ``"quadrant"`` (default) ranks a point of the plane by the occupancy of the region it
   opens towards the signal-like corner: the number of sideband events at least as
   background-unlike *and* at least as signal-like,

       C(L_b, L_s) = #{sideband events e : L_b(e) >= L_b, L_s(e) <= L_s},

   estimated on a grid of sideband quantiles of each axis (``n_bins``), with
   score = -log((C + 1/2) / (N + 1/2)). Adding grid bins from the least to the most
   populated quadrant grows a monotone staircase region from the signal-like corner,
   the shape of a QUAK selection, and "top eps of the sidebands" is exactly "add bins
   until they hold a fraction eps of the sidebands"; CASE stopped at a signal-region
   count instead, which under the background hypothesis is the same target and which
   the core's sideband calibration keeps free of the signal it is looking for. The
   order is invariant under any monotone change of either axis, so it does not care
   how the losses are scaled. Ties (bins with equal counts, the empty extreme corner)
   are broken by the log-likelihood ratio L_b - L_s, scaled to stay below one count
   step, so the score is strictly increasing in L_b and decreasing in L_s.
   ``"llr"`` scores L_b - L_s = log(p_s / p_b), the Neyman-Pearson ratio when a prior is
   exactly the signal; with a wrong prior it can rank the signal below background (toys:
   AUC 0.42 with a prior 200 GeV off in the heavy jet's mass and 50 GeV in the light
   one's, where ``"quadrant"`` gave 0.92).

Each flow returns densities in the raw feature space (its standardisation's Jacobian
added back), so the losses of different flows are comparable event by event.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from casehunt.errors import ConfigError, RegionError
from casehunt.events import EventTable, check_finite
from casehunt.features import LHCO, FeatureSet, resolve_features
from casehunt.methods import SelectionMethod, TrainingData
from casehunt_quak.flow import DensityFlow, FlowConfig, torch_threads
from casehunt_quak.priors import check_prior_path, prior_features, prior_flow, prior_name

#: the defaults of the two flow options; a configuration may override any subset
BACKGROUND_FLOW: dict[str, Any] = {
    # "nsf" (autoregressive rational-quadratic splines) or "maf" (affine autoregressive)
    "type": "nsf",
    "transforms": 4,
    # spline bins ("nsf" only)
    "bins": 8,
    "hidden": [64, 64],
    "epochs": 30,
    "batch_size": 1024,
    "learning_rate": 2e-3,
    # stop after this many epochs without a better validation loss; the best is kept
    "patience": 5,
    "validation_fraction": 0.2,
    # train on at most this many sideband events (null: all)
    "max_events": None,
}
PRIOR_FLOW: dict[str, Any] = {
    **BACKGROUND_FLOW,
    # a prior has a few thousand events: more epochs of smaller batches
    "epochs": 100,
    "batch_size": 256,
    "learning_rate": 1e-3,
    "patience": 10,
}
SCORES = ("quadrant", "llr")
SIGNAL_AXES = ("min", "mixture")


class QUAK(SelectionMethod):
    """Per signal region: a sideband background flow, signal-prior flows, and a ranking."""

    name: ClassVar[str] = "quak"
    training = "per_region"
    inputs: ClassVar[frozenset[str]] = frozenset(LHCO.columns)
    description: ClassVar[str] = (
        "QUAK: flow losses for the sideband background (conditional on mjj) and for "
        "simulated signal priors, events ranked in that space (arXiv:2011.03550)"
    )
    default_options: ClassVar[Mapping[str, Any]] = {
        # a named event-level feature set ("lhco", "lhco_extended") or a list of columns
        "features": "lhco",
        # simulated signal samples: HDF5 files in the development-data layout (paths are
        # relative to the working directory); at least one
        "priors": [],
        # use at most this many events of each prior (null: all)
        "prior_max_events": 50_000,
        # apply the CASE preselection with its default cuts to the prior events
        "prior_preselection": True,
        # seed of the prior flows: they depend on nothing else, so they are trained once
        # per process and shared by all folds and regions
        "prior_seed": 0,
        # the flows (any subset of the keys of BACKGROUND_FLOW / PRIOR_FLOW)
        "background_flow": dict(BACKGROUND_FLOW),
        "prior_flow": dict(PRIOR_FLOW),
        # how the K signal axes become one: "min" (best prior) or "mixture"
        "signal_axis": "min",
        # "quadrant" (sideband occupancy of the signal-ward quadrant) or "llr" (L_b - L_s)
        "score": "quadrant",
        # grid of the quadrant count, per axis: "auto" (sqrt of the sideband events,
        # between 10 and 200) or an integer
        "n_bins": "auto",
        # "auto" (CUDA when available), "cpu", "cuda", "cuda:1", ...
        "device": "auto",
        # torch CPU threads while training and scoring (null: torch's default)
        "threads": 1,
        # tqdm progress bars while training
        "progress": False,
    }

    def __init__(self, options: Mapping[str, Any] | None = None, seed: int = 0) -> None:
        super().__init__(options, seed)
        o = self.options
        self.feature_set = _feature_set(o["features"])
        self.background_config = _flow_config(o, "background_flow", BACKGROUND_FLOW)
        self.prior_config = _flow_config(o, "prior_flow", PRIOR_FLOW)
        self.priors = _priors(o["priors"])
        self._check_options()
        self.background_: DensityFlow | None = None
        self.prior_flows_: list[DensityFlow] = []
        self.condition_: tuple[float, float] = (0.0, 1.0)
        self.edges_: tuple[np.ndarray, np.ndarray] = (np.zeros(0), np.zeros(0))
        self.counts_: np.ndarray = np.zeros((0, 0))
        self.n_reference_: int = 0

    # options -------------------------------------------------------------------------
    def _check_options(self) -> None:
        o = self.options
        v = o["prior_max_events"]
        if v is not None and not _is_positive_int(v):
            raise ConfigError(
                f"quak: option 'prior_max_events' must be null or a positive integer, got {v!r}"
            )
        for key in ("prior_preselection", "progress"):
            if not isinstance(o[key], bool):
                raise ConfigError(f"quak: option {key!r} must be true or false, got {o[key]!r}")
        if isinstance(o["prior_seed"], bool) or not isinstance(o["prior_seed"], (int, np.integer)):
            raise ConfigError(
                f"quak: option 'prior_seed' must be an integer, got {o['prior_seed']!r}"
            )
        if o["signal_axis"] not in SIGNAL_AXES:
            raise ConfigError(
                f"quak: option 'signal_axis' must be one of {', '.join(SIGNAL_AXES)}, "
                f"got {o['signal_axis']!r}"
            )
        if o["score"] not in SCORES:
            raise ConfigError(
                f"quak: option 'score' must be one of {', '.join(SCORES)}, got {o['score']!r}"
            )
        nb = o["n_bins"]
        if nb != "auto" and not (_is_positive_int(nb) and nb >= 2):
            raise ConfigError(
                f"quak: option 'n_bins' must be 'auto' or an integer >= 2, got {nb!r}"
            )
        device = o["device"]
        if not isinstance(device, str) or not device:
            raise ConfigError(
                f"quak: option 'device' must be 'auto', 'cpu' or a torch device, got {device!r}"
            )
        threads = o["threads"]
        if threads is not None and not _is_positive_int(threads):
            raise ConfigError(
                f"quak: option 'threads' must be null or a positive integer, got {threads!r}"
            )

    def required_columns(self) -> frozenset[str]:
        return frozenset(self.feature_set.columns) | {"mjj"}

    def _device(self) -> str:
        device = self.options["device"]
        if device == "auto":
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        return str(device)

    # training ------------------------------------------------------------------------
    def fit(self, data: TrainingData) -> None:
        """Background flow on the sidebands, one flow per prior, the sideband reference."""
        with torch_threads(self.options["threads"]):
            self._fit(data)

    def _fit(self, data: TrainingData) -> None:
        in_sb = np.asarray(data.in_sideband, dtype=bool)
        where = f"region {data.region.name}" if data.region is not None else "the training data"
        if in_sb.sum() < 50:
            raise RegionError(
                f"quak: {where} has {int(in_sb.sum())} sideband events; the background flow "
                "needs at least 50 (check the window and the sidebands)"
            )
        sb = data.events.take(in_sb)
        mjj = np.asarray(sb[data.resonant_feature], dtype=np.float64)
        if np.any(mjj <= 0) or not np.all(np.isfinite(mjj)):
            raise RegionError(f"quak: {where}: {data.resonant_feature} must be positive and finite")
        self.resonant_feature_ = data.resonant_feature
        x = self._features(sb)
        device, progress = self._device(), self.options["progress"]

        # 1. the background axis: p_b(x | mjj) on the sidebands (condition: standardised
        #    log mjj, as CATHODE)
        lm = np.log(mjj)
        self.condition_ = (float(lm.mean()), float(lm.std()) or 1.0)
        (seed_b,) = np.random.SeedSequence(self.seed).generate_state(1)
        self.background_ = DensityFlow(
            self.background_config, True, seed=int(seed_b), device=device, progress=progress
        )
        self.background_.label = "background flow"
        self.background_.fit(x, self._condition(mjj))

        # 2. the signal axes: one unconditional flow per prior, shared across folds
        seeds = np.random.SeedSequence(int(self.options["prior_seed"])).generate_state(
            len(self.priors)
        )
        self.prior_flows_ = []
        for k, prior in enumerate(self.priors):
            xk = prior_features(
                prior,
                k,
                self.feature_set.columns,
                self.options["prior_preselection"],
                self.options["prior_max_events"],
                int(self.options["prior_seed"]),
            )
            label = f"prior flow {prior_name(prior, k)}"
            self.prior_flows_.append(
                prior_flow(xk, self.prior_config, int(seeds[k]), device, progress, label)
            )

        # 3. the reference: where the sideband events lie in the plane (L_b, L_s)
        l_b, l_s = self._losses(x, mjj)
        n = len(l_b)
        nb = self.options["n_bins"]
        nb = int(np.clip(round(np.sqrt(n)), 10, 200)) if nb == "auto" else int(nb)
        probs = np.arange(1, nb) / nb
        self.edges_ = (np.unique(np.quantile(l_b, probs)), np.unique(np.quantile(l_s, probs)))
        i, j = self._cells(l_b, l_s)
        counts = np.zeros((len(self.edges_[0]) + 1, len(self.edges_[1]) + 1))
        np.add.at(counts, (i, j), 1.0)
        # C[i, j]: reference events in cells i' >= i (at least as background-unlike) and
        # j' <= j (at least as signal-like)
        self.counts_ = np.cumsum(np.cumsum(counts[::-1], axis=0)[::-1], axis=1)
        self.n_reference_ = n

    # scoring -------------------------------------------------------------------------
    def _features(self, events: EventTable) -> np.ndarray:
        check_finite(events, self.feature_set.columns)
        return self.feature_set.event_matrix(events)

    def _condition(self, mjj: np.ndarray) -> np.ndarray:
        mean, std = self.condition_
        return (np.log(np.asarray(mjj, dtype=np.float64)) - mean) / std

    def _cells(self, l_b: np.ndarray, l_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        edges_b, edges_s = self.edges_
        return np.searchsorted(edges_b, l_b, side="right"), np.searchsorted(
            edges_s, l_s, side="right"
        )

    def _losses(self, x: np.ndarray, mjj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.background_ is None or not self.prior_flows_:
            raise RuntimeError("quak: score called before fit")
        l_b = -self.background_.log_prob(x, self._condition(mjj))
        l_k = np.stack([-f.log_prob(x) for f in self.prior_flows_])
        if self.options["signal_axis"] == "min":
            l_s = l_k.min(axis=0)
        else:  # -log(mean_k p_k), computed stably
            from scipy.special import logsumexp

            l_s = -(logsumexp(-l_k, axis=0) - np.log(len(l_k)))
        return l_b, l_s

    def losses(self, events: EventTable) -> dict[str, np.ndarray]:
        """The QUAK coordinates of events: L_b, the reduced L_s and each prior's L_k."""
        with torch_threads(self.options["threads"]):
            x = self._features(events)
            mjj = np.asarray(events[self.resonant_feature_], dtype=np.float64)
            l_b, l_s = self._losses(x, mjj)
            l_k = np.stack([-f.log_prob(x) for f in self.prior_flows_], axis=1)
        return {"background": l_b, "signal": l_s, "priors": l_k}

    def score(self, events: EventTable) -> np.ndarray:
        """Higher for events more background-unlike and more like a prior (see module doc)."""
        with torch_threads(self.options["threads"]):
            x = self._features(events)
            mjj = np.asarray(events[self.resonant_feature_], dtype=np.float64)
            l_b, l_s = self._losses(x, mjj)
        llr = l_b - l_s
        if self.options["score"] == "llr":
            return llr
        return quadrant_score(self.counts_, self._cells(l_b, l_s), self.n_reference_, llr)


def quadrant_score(
    corner_counts: np.ndarray, cells: tuple[np.ndarray, np.ndarray], n: int, llr: np.ndarray
) -> np.ndarray:
    """-log((C + 1/2) / (N + 1/2)) of each event's cell, ties broken by the llr.

    Distinct counts differ by at least one event, so their scores by at least
    log1p(1 / (N + 1/2)); the tie-breaker, an increasing map of the llr into (0, 1), is
    scaled to less than half that and never reorders cells of different counts.
    """
    c = corner_counts[cells]
    step = np.log1p(1.0 / (n + 0.5))
    tie = 0.5 + np.arctan(llr) / np.pi
    return -np.log((c + 0.5) / (n + 0.5)) + 0.49 * step * tie


def _is_positive_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and bool(v > 0)


def _is_positive_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and bool(v > 0)


def _feature_set(spec: Any) -> FeatureSet:
    if not isinstance(spec, (str, Sequence)):
        raise ConfigError(
            f"quak: option 'features' must be a feature-set name or a list of columns, got {spec!r}"
        )
    try:
        fs = resolve_features(spec)
    except ConfigError as exc:
        raise ConfigError(f"quak: option 'features': {exc}") from None
    if fs.per_jet:
        raise ConfigError(
            f"quak: option 'features': {spec!r} is a per-jet set; QUAK learns event-level "
            "densities (give an event-level set or a list of columns)"
        )
    return fs


def _priors(spec: Any) -> list[str | os.PathLike[str] | EventTable]:
    if isinstance(spec, (str, os.PathLike, EventTable)) or not isinstance(spec, Sequence):
        raise ConfigError(
            f"quak: option 'priors' must be a list of signal-sample files, got {spec!r}"
        )
    if not spec:
        raise ConfigError(
            "quak: option 'priors' is empty; QUAK needs at least one signal prior (a file of "
            "simulated signal events in the development-data layout) to build a signal axis"
        )
    out: list[str | os.PathLike[str] | EventTable] = []
    for p in spec:
        if isinstance(p, EventTable):
            out.append(p)
        elif isinstance(p, (str, os.PathLike)) and str(p):
            check_prior_path(p)
            out.append(p)
        else:
            raise ConfigError(f"quak: option 'priors': {p!r} is not a file path")
    return out


def _flow_config(o: Mapping[str, Any], key: str, defaults: Mapping[str, Any]) -> FlowConfig:
    given = o[key]
    if not isinstance(given, Mapping):
        raise ConfigError(f"quak: option {key!r} must be a mapping of flow settings, got {given!r}")
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ConfigError(
            f"quak: option {key!r}: unknown setting(s) {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(defaults)}"
        )
    c = {**defaults, **given}
    name = lambda k: f"{key}.{k}"  # noqa: E731
    if c["type"] not in ("nsf", "maf"):
        raise ConfigError(
            f"quak: option {name('type')!r} must be 'nsf' or 'maf', got {c['type']!r}"
        )
    for k in ("transforms", "bins", "epochs", "batch_size", "patience"):
        if not _is_positive_int(c[k]):
            raise ConfigError(f"quak: option {name(k)!r} must be a positive integer, got {c[k]!r}")
    hidden = c["hidden"]
    if (
        not isinstance(hidden, (list, tuple))
        or not hidden
        or not all(_is_positive_int(h) for h in hidden)
    ):
        raise ConfigError(
            f"quak: option {name('hidden')!r} must be a list of positive layer widths, got {hidden!r}"
        )
    if not _is_positive_number(c["learning_rate"]):
        raise ConfigError(
            f"quak: option {name('learning_rate')!r} must be a positive number, "
            f"got {c['learning_rate']!r}"
        )
    frac = c["validation_fraction"]
    if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0 < frac < 1:
        raise ConfigError(
            f"quak: option {name('validation_fraction')!r} must be between 0 and 1, got {frac!r}"
        )
    if c["max_events"] is not None and not _is_positive_int(c["max_events"]):
        raise ConfigError(
            f"quak: option {name('max_events')!r} must be null or a positive integer, "
            f"got {c['max_events']!r}"
        )
    return FlowConfig(
        kind=c["type"],
        transforms=int(c["transforms"]),
        bins=int(c["bins"]),
        hidden=tuple(int(h) for h in hidden),
        epochs=int(c["epochs"]),
        batch_size=int(c["batch_size"]),
        learning_rate=float(c["learning_rate"]),
        patience=int(c["patience"]),
        validation_fraction=float(frac),
        max_events=None if c["max_events"] is None else int(c["max_events"]),
    )
