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
   The K signal axes are reduced to one (``signal_axis``): the loss of the mixture of
   the priors, L_s = -log(mean_k p_k) (default), or the best prior per event,
   L_s = min_k L_k (CASE's reduction), which differs from it by at most log K.

   *Mass broadening* (``prior_broadening``, on by default). A prior's flow is as sharp in
   the jet masses as the simulated resonance: a signal whose daughters have other masses
   lies far from every prior, however similar its jets (development data: five
   two- and three-prong priors at other masses gave max SIC 1.2-1.3). So each prior
   stands for a family of hypotheses: a second flow learns its events with each jet's
   mass scaled by its own factor exp(U(-w, w)), i.e. daughter masses log-uniform within
   a factor e^w of the simulated ones, with the prior's mass resolution and
   substructure kept (a two-prong jet stays two-prong at another mass, to the extent
   that its substructure depends on its mass only through m / pT; the derived columns,
   mass order included, are recomputed). The prior's density is the hierarchical
   p_k = a p_k,sharp + (1 - a) p_k,broadened, with a (``sharp_weight``) the belief that
   the simulated masses are the signal's: near them the sharp term, narrower by the
   ratio of the widths, still dominates, elsewhere the broadened one speaks. This is
   Park et al.'s point that priors sharing the salient features of the signal recover
   sensitivity, made explicit for the jet masses.

   ``prior_features`` may give the signal axes other features than the background axis,
   e.g. substructure only, so that a prior says "two-prong jets" whatever their masses.
   On the development data that fails (max SIC ~1.6 with any prior, the matching one
   included): substructure alone separates this signal from QCD little (a supervised
   classifier on the two tau21 reaches 2.0), the masses carry the information, and the
   background axis, which keeps them, finds little on its own (1.4).
3. **Ranking (``score``).** The core selects the events whose score exceeds the (1 - eps)
   quantile of the sideband scores, so the method's whole selection is an ordering of
   the plane (L_b, L_s). CASE's ordering is "least populated in the sidebands first".
   Per-bin occupancy is not a well-defined order, though: it depends on the coordinates
   of the plane (in sideband-quantile coordinates it is the copula density, whose sparse
   bins are the corner of typical background unlike every prior: on toys this ordering
   gave the injected signal an AUC of 0.03-0.08 with two of three priors); in raw loss
   units it depends on an arbitrary range.
   ``"llr"`` (default) scores L_b - L_s = log(p_s / p_b), the Neyman-Pearson ratio of
   the prior hypothesis (the mixture of the priors) against the background; with
   broadened priors p_s is a smooth density over the masses the signal may have, and the
   ratio is the optimal ordering for that composite hypothesis (development data: max
   SIC 3.5 with five wrong priors where ``"quadrant"`` gave 2.6). With sharp priors that
   miss the signal it can rank the signal below background (toys, raw-mass flows: AUC
   0.42 with a prior 200 GeV off in the heavy jet's mass and 50 GeV in the light one's,
   where ``"quadrant"`` gave 0.92).
   ``"quadrant"`` ranks a point of the plane by the occupancy of the region it
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

Each flow returns densities in the raw feature space (its standardisation's Jacobian
added back, and that of log(1 + x) for the ``log_columns``, the jet masses, which the
flows model in log scale), so the losses of different flows are comparable event by
event.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from casehunt.errors import ConfigError, RegionError
from casehunt.events import EventTable, check_finite
from casehunt.features import LHCO, FeatureSet, event_features_option
from casehunt.methods import SelectionMethod, TrainingData
from casehunt.training import torch_threads
from casehunt_quak.flow import DensityFlow, FlowConfig
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
#: the defaults of the option `prior_broadening` (a configuration may give any subset)
BROADENING: dict[str, Any] = {
    # each jet mass of a prior event is scaled by its own factor exp(U(-width, width))
    "width": 0.8,
    # broadened copies of each prior event
    "copies": 1,
    # p_k = w p_sharp + (1 - w) p_broadened: the belief that the simulated masses are exact
    "sharp_weight": 0.2,
}
SCORES = ("quadrant", "llr")


@dataclass(frozen=True)
class Broadening:
    """The prior mass broadening (option ``prior_broadening``)."""

    width: float
    copies: int
    sharp_weight: float


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
        # the features of the signal axes (the prior flows): null = `features`, or a set
        # name / list of columns (e.g. substructure only: a prior then says "two-prong
        # jets", not "jets of these masses"; the masses stay on the background axis)
        "prior_features": None,
        # columns the flows model as log(1 + x) (non-negative, heavy-tailed: jet masses);
        # those not among a flow's features are ignored
        "log_columns": ["mj1", "mj2", "delta_mj"],
        # simulated signal samples: HDF5 files in the development-data layout (paths are
        # relative to the working directory); at least one
        "priors": [],
        # use at most this many events of each prior (null: all)
        "prior_max_events": 50_000,
        # apply the CASE preselection with its default cuts to the prior events
        "prior_preselection": True,
        # mass broadening of the priors: null (off) or a mapping (any subset of the keys
        # of BROADENING): each prior gets a second flow on copies of its events with every
        # jet mass scaled by its own factor exp(U(-width, width)), and a prior's density
        # is sharp_weight * sharp + (1 - sharp_weight) * broadened
        "prior_broadening": dict(BROADENING),
        # seed of the prior flows: they depend on nothing else, so they are trained once
        # per process and shared by all folds and regions
        "prior_seed": 0,
        # the flows (any subset of the keys of BACKGROUND_FLOW / PRIOR_FLOW)
        "background_flow": dict(BACKGROUND_FLOW),
        "prior_flow": dict(PRIOR_FLOW),
        # how the K signal axes become one: "min" (best prior) or "mixture"
        "signal_axis": "mixture",
        # "quadrant" (sideband occupancy of the signal-ward quadrant) or "llr" (L_b - L_s)
        "score": "llr",
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
        self.feature_set = event_features_option(o["features"], "quak")
        self.prior_feature_set = (
            self.feature_set
            if o["prior_features"] is None
            else event_features_option(o["prior_features"], "quak", "prior_features")
        )
        self.background_config = _flow_config(o, "background_flow", BACKGROUND_FLOW)
        self.prior_config = _flow_config(o, "prior_flow", PRIOR_FLOW)
        self.priors = _priors(o["priors"])
        self.log_columns = _log_columns(o["log_columns"])
        self.broadening = _broadening(o["prior_broadening"])
        self._check_options()
        self.background_: DensityFlow | None = None
        self.prior_flows_: list[DensityFlow] = []
        self.broad_flows_: list[DensityFlow] = []
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
        return frozenset(self.feature_set.columns) | set(self.prior_feature_set.columns) | {"mjj"}

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
        x, xp = self._features(sb)
        device, progress = self._device(), self.options["progress"]

        # 1. the background axis: p_b(x | mjj) on the sidebands (condition: standardised
        #    log mjj, as CATHODE)
        lm = np.log(mjj)
        self.condition_ = (float(lm.mean()), float(lm.std()) or 1.0)
        (seed_b,) = np.random.SeedSequence(self.seed).generate_state(1)
        self.background_ = DensityFlow(
            self.background_config,
            True,
            seed=int(seed_b),
            device=device,
            progress=progress,
            log_columns=self._log_mask(self.feature_set),
        )
        self.background_.label = "background flow"
        self.background_.fit(x, self._condition(mjj))

        # 2. the signal axes: one unconditional flow per prior, shared across folds
        self.fit_priors()

        # 3. the reference: where the sideband events lie in the plane (L_b, L_s)
        l_b, l_s, _ = self._losses(x, xp, mjj)
        self.fit_reference(l_b, l_s)

    def fit_priors(self) -> None:
        """Train (or take from the process cache) the flows of every prior on `prior_features`.

        Per prior: the flow of its events as simulated ("sharp", unless `sharp_weight` is 0)
        and, with `prior_broadening`, the flow of its mass-broadened events.
        """
        o = self.options
        k_priors = len(self.priors)
        seeds = np.random.SeedSequence(int(o["prior_seed"])).generate_state(2 * k_priors)
        mask = self._log_mask(self.prior_feature_set)
        self.prior_flows_, self.broad_flows_ = [], []
        b = self.broadening
        kinds: list[tuple[str, tuple[float, int] | None]] = (
            [("sharp", None)] if b is None or b.sharp_weight > 0 else []
        )
        if b is not None:
            kinds.append(("broadened", (b.width, b.copies)))
        for kind, broadening in kinds:
            out = self.prior_flows_ if kind == "sharp" else self.broad_flows_
            for k, prior in enumerate(self.priors):
                xk = prior_features(
                    prior,
                    k,
                    self.prior_feature_set.columns,
                    o["prior_preselection"],
                    o["prior_max_events"],
                    int(o["prior_seed"]),
                    broadening,
                )
                label = f"{kind} prior flow {prior_name(prior, k)}"
                seed = int(seeds[k if kind == "sharp" else k_priors + k])
                out.append(
                    prior_flow(
                        xk, self.prior_config, seed, self._device(), o["progress"], label, mask
                    )
                )

    def fit_reference(self, l_b: np.ndarray, l_s: np.ndarray) -> None:
        """The quadrant counts of the reference (sideband) events' coordinates (L_b, L_s)."""
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
    def _log_mask(self, feature_set: FeatureSet) -> tuple[bool, ...]:
        return tuple(c in self.log_columns for c in feature_set.columns)

    def _features(self, events: EventTable) -> tuple[np.ndarray, np.ndarray]:
        """The background axis' and the signal axes' feature matrices."""
        check_finite(events, self.feature_set.columns)
        x = self.feature_set.event_matrix(events)
        if self.prior_feature_set is self.feature_set:
            return x, x
        check_finite(events, self.prior_feature_set.columns)
        return x, self.prior_feature_set.event_matrix(events)

    def _condition(self, mjj: np.ndarray) -> np.ndarray:
        mean, std = self.condition_
        return (np.log(np.asarray(mjj, dtype=np.float64)) - mean) / std

    def _cells(self, l_b: np.ndarray, l_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        edges_b, edges_s = self.edges_
        return np.searchsorted(edges_b, l_b, side="right"), np.searchsorted(
            edges_s, l_s, side="right"
        )

    def _losses(
        self, x: np.ndarray, xp: np.ndarray, mjj: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """L_b, the reduced L_s and the per-prior losses (K, N)."""
        if self.background_ is None or not (self.prior_flows_ or self.broad_flows_):
            raise RuntimeError("quak: score called before fit")
        l_b = -self.background_.log_prob(x, self._condition(mjj))
        l_k = self._prior_losses(xp)
        return l_b, reduce_signal_axes(l_k, self.options["signal_axis"]), l_k

    def _prior_losses(self, xp: np.ndarray) -> np.ndarray:
        """-log p_k per prior (K, N); with broadening p_k = w p_sharp + (1 - w) p_broadened."""
        b = self.broadening
        if b is None:
            return np.stack([-f.log_prob(xp) for f in self.prior_flows_])
        broad = np.stack([f.log_prob(xp) for f in self.broad_flows_])
        if b.sharp_weight == 0:
            return -broad
        sharp = np.stack([f.log_prob(xp) for f in self.prior_flows_])
        w = b.sharp_weight
        return -np.logaddexp(np.log(w) + sharp, np.log1p(-w) + broad)

    def losses(self, events: EventTable) -> dict[str, np.ndarray]:
        """The QUAK coordinates of events: L_b, the reduced L_s and each prior's L_k."""
        with torch_threads(self.options["threads"]):
            x, xp = self._features(events)
            mjj = np.asarray(events[self.resonant_feature_], dtype=np.float64)
            l_b, l_s, l_k = self._losses(x, xp, mjj)
        return {"background": l_b, "signal": l_s, "priors": l_k.T}

    def score(self, events: EventTable) -> np.ndarray:
        """Higher for events more background-unlike and more like a prior (see module doc)."""
        with torch_threads(self.options["threads"]):
            x, xp = self._features(events)
            mjj = np.asarray(events[self.resonant_feature_], dtype=np.float64)
            l_b, l_s, _ = self._losses(x, xp, mjj)
        llr = l_b - l_s
        if self.options["score"] == "llr":
            return llr
        return quadrant_score(self.counts_, self._cells(l_b, l_s), self.n_reference_, llr)


def reduce_signal_axes(l_k: np.ndarray, how: str) -> np.ndarray:
    """One signal loss from the K prior losses (K, N): "min" or "mixture" (module doc)."""
    if how == "min":
        return l_k.min(axis=0)
    from scipy.special import logsumexp

    # -log(mean_k p_k), computed stably
    return -(logsumexp(-l_k, axis=0) - np.log(len(l_k)))


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


def _log_columns(spec: Any) -> frozenset[str]:
    if (
        spec is None
        or isinstance(spec, str)
        or not isinstance(spec, Sequence)
        or not all(isinstance(c, str) for c in spec)
    ):
        raise ConfigError(
            f"quak: option 'log_columns' must be a list of column names, got {spec!r}"
        )
    return frozenset(spec)


def _broadening(spec: Any) -> Broadening | None:
    if spec is None:
        return None
    keys = set(BROADENING)
    if not isinstance(spec, Mapping) or not set(spec) <= keys:
        raise ConfigError(
            "quak: option 'prior_broadening' must be null or a mapping with the keys "
            f"{', '.join(BROADENING)}, got {spec!r}"
        )
    c = {**BROADENING, **spec}
    if not _is_positive_number(c["width"]):
        raise ConfigError(
            f"quak: option 'prior_broadening.width' must be a positive number, got {c['width']!r}"
        )
    if not _is_positive_int(c["copies"]):
        raise ConfigError(
            "quak: option 'prior_broadening.copies' must be a positive integer, "
            f"got {c['copies']!r}"
        )
    w = c["sharp_weight"]
    if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w < 1:
        raise ConfigError(
            f"quak: option 'prior_broadening.sharp_weight' must be in [0, 1), got {w!r}"
        )
    return Broadening(float(c["width"]), int(c["copies"]), float(w))


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
