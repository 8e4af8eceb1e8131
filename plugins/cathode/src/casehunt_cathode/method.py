"""CATHODE: classifying anomalies through outer density estimation.

Hallin et al. (arXiv:2109.00546) combine the two weakly supervised ideas of a resonance
search. A conditional normalizing flow learns the background density of the features
given mjj, p(x | mjj), on the sidebands, where there is (almost) no signal; interpolated
into the signal region and sampled there, with mjj drawn from the signal region's own
spectrum, it gives a synthetic background sample. A classifier then learns signal-region
data (label 1) against the synthetic sample (label 0): with an exact background model,
the optimum is a monotonic function of the likelihood ratio of signal-plus-background to
background, as for the idealized anomaly detector; unlike CWoLa hunting, features that
depend on mjj do not sculpt, since the flow follows their mjj dependence.

CMS used it in the CASE search as "CATHODE-b" (arXiv:2412.03747). Here, per signal
region and fold (the core does the k-folding):

1. features (a named set or a list of columns, optionally with added noise features or
   jet masses correlated with mjj) are min-max scaled, logit-transformed and
   standardised; the condition is log(mjj), standardised;
2. a conditional MAF (zuko) trains on the sideband events, with a validation split; the
   ``flow_n_best_epochs`` epochs with the lowest validation loss are kept;
3. ``oversampling`` x (signal-region events) samples: mjj from a Gaussian kernel density
   estimate of the signal-region mjj (reflected at the window edges), the features from
   the flow ensemble (an equal share per kept epoch), preprocessing inverted;
4. a shared classifier backend (``casehunt.classifiers``, boosted trees by default)
   learns data against samples with balanced class weights; the score is its output.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from casehunt.classifiers import (
    classifier_spec,
    kept_features,
    make_classifier,
    model_seeds,
    screen_summary,
)
from casehunt.errors import ConfigError, RegionError
from casehunt.events import EventTable, check_finite
from casehunt.features import LHCO, event_features_option
from casehunt.methods import SelectionMethod, TrainingData
from casehunt.options import number_at_least, open_fraction, positive_int, positive_number
from casehunt.training import torch_threads
from casehunt.variants import CORRELATION, MASS_COLUMNS, correlate, noise_columns, noise_values
from casehunt_cathode.flow import ConditionalFlow, FlowConfig
from casehunt_cathode.preprocessing import LogitScaler, LogStandardScaler


class CATHODE(SelectionMethod):
    """Per signal region: a sideband flow sampled into the signal region, and a classifier."""

    name: ClassVar[str] = "cathode"
    training = "per_region"
    inputs: ClassVar[frozenset[str]] = frozenset(LHCO.columns)
    description: ClassVar[str] = (
        "CATHODE: a conditional flow learns the sideband background, is sampled in the "
        "signal region, and a classifier learns data against samples (arXiv:2109.00546)"
    )
    default_options: ClassVar[Mapping[str, Any]] = {
        # a named event-level feature set ("lhco", "lhco_extended") or a list of columns
        "features": "lhco",
        # robustness studies: N standard-normal features added to every event (a function
        # of the event and of `noise_seed`, the same in fit and score)
        "noise_features": 0,
        "noise_seed": 0,
        # robustness studies: jet masses shifted by 0.1 mjj (true) or by k * mjj (a number)
        "correlate_masses": False,
        # the conditional flow (zuko): "nsf" (autoregressive rational-quadratic splines) or
        # "maf" (affine autoregressive, as the paper); on the development data the splines
        # model the sideband background better (README); transforms, hidden layers of each
        "flow_type": "nsf",
        "flow_transforms": 4,
        # spline bins ("nsf" only)
        "flow_bins": 8,
        "flow_hidden": [64, 64],
        "flow_epochs": 25,
        "flow_batch_size": 1024,
        "flow_learning_rate": 2e-3,
        "flow_weight_decay": 0.0,
        "flow_validation_fraction": 0.2,
        # the epochs with the lowest validation loss, sampled as an ensemble (paper: 10)
        "flow_n_best_epochs": 5,
        # train the flow on at most this many sideband events (null: all)
        "flow_max_events": None,
        # samples per signal-region event (paper: about 4)
        "oversampling": 4.0,
        # bandwidth of the signal-region mjj KDE: null (Scott's rule) or a factor for scipy
        "kde_bandwidth": None,
        # a backend of casehunt.classifiers: "hgb" (boosted trees) or "mlp" (torch)
        "classifier": "hgb",
        # classifier ensemble size inside each fold
        "n_models": 3,
        # passed to the classifier backend
        "classifier_options": {},
        # with the boosted trees' `feature_screen`: null, or "sidebands" to subtract the
        # importance each feature has in held-out sideband data against the flow's
        # samples there (the flow's mismodelling, not signal)
        "screen_reference": None,
        # "auto" (CUDA when available), "cpu", "cuda", "cuda:1", ...
        "device": "auto",
        # torch CPU threads while training and sampling (null: torch's default); one is
        # fastest for networks this small and robust on a shared machine
        "threads": 1,
        # tqdm progress bars while training
        "progress": False,
    }

    def __init__(self, options: Mapping[str, Any] | None = None, seed: int = 0) -> None:
        super().__init__(options, seed)
        self.feature_set = event_features_option(self.options["features"], "cathode")
        self.flow_config = _flow_config(self.options)
        self._classifier_args = _classifier_args(self.options)
        make_classifier(*self._classifier_args, seed=self.seed)  # fail on bad options now
        self._check_options()
        self.flow_: ConditionalFlow | None = None
        self.scaler_: LogitScaler | None = None
        self.condition_: LogStandardScaler | None = None
        self.classifier_: Any = None
        self.n_samples_: int = 0
        self.n_signal_region_: int = 0
        self.n_template_: int = 0

    # options -------------------------------------------------------------------------
    def _check_options(self) -> None:
        o = self.options
        n = o["noise_features"]
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ConfigError(
                f"cathode: option 'noise_features' must be an integer >= 0, got {n!r}"
            )
        if isinstance(o["noise_seed"], bool) or not isinstance(o["noise_seed"], (int, np.integer)):
            raise ConfigError(
                f"cathode: option 'noise_seed' must be an integer, got {o['noise_seed']!r}"
            )
        k = o["correlate_masses"]
        if isinstance(k, bool):
            self.correlation = CORRELATION if k else 0.0
        elif isinstance(k, (int, float)) and np.isfinite(k):
            self.correlation = float(k)
        else:
            raise ConfigError(
                f"cathode: option 'correlate_masses' must be true, false or a number, got {k!r}"
            )
        if self.correlation and not (set(self.feature_set.columns) & MASS_COLUMNS):
            raise ConfigError(
                "cathode: option 'correlate_masses' shifts jet masses, but the features "
                f"{list(self.feature_set.columns)} have none of {sorted(MASS_COLUMNS)}"
            )
        over = o["oversampling"]
        if isinstance(over, bool) or not isinstance(over, (int, float)) or not over > 0:
            raise ConfigError(
                f"cathode: option 'oversampling' must be a positive number, got {over!r}"
            )
        bw = o["kde_bandwidth"]
        if bw is not None and (isinstance(bw, bool) or not isinstance(bw, (int, float)) or bw <= 0):
            raise ConfigError(
                f"cathode: option 'kde_bandwidth' must be null or a positive number, got {bw!r}"
            )
        device = o["device"]
        if not isinstance(device, str) or not device:
            raise ConfigError(
                f"cathode: option 'device' must be 'auto', 'cpu' or a torch device, got {device!r}"
            )
        reference = o["screen_reference"]
        if reference not in (None, "sidebands"):
            raise ConfigError(
                f"cathode: option 'screen_reference' must be null or 'sidebands', got {reference!r}"
            )
        name, args = self._classifier_args
        if reference is not None and (name != "hgb" or args.get("feature_screen") is None):
            raise ConfigError(
                "cathode: option 'screen_reference' needs the boosted trees' feature screen "
                "(classifier 'hgb' with classifier_options 'feature_screen')"
            )
        threads = o["threads"]
        if threads is not None:
            positive_int(o, "threads", "cathode")
        if not isinstance(o["progress"], bool):
            raise ConfigError(
                f"cathode: option 'progress' must be true or false, got {o['progress']!r}"
            )

    def required_columns(self) -> frozenset[str]:
        return frozenset(self.feature_set.columns) | {"mjj"}

    def _device(self) -> str:
        device = self.options["device"]
        if device == "auto":
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        return str(device)

    # features ------------------------------------------------------------------------
    @property
    def feature_names(self) -> list[str]:
        """The names of the columns of :meth:`_features`: the features, then the noise."""
        return [*self.feature_set.columns, *noise_columns(int(self.options["noise_features"]))]

    def _features(self, events: EventTable) -> np.ndarray:
        """The (N, F) inputs: the feature columns, correlated and with noise as configured."""
        check_finite(events, self.feature_set.columns)
        x = self.feature_set.event_matrix(events)
        if not self.correlation and not self.options["noise_features"]:
            return x
        mjj = np.asarray(events["mjj"], dtype=np.float64)
        raw = x
        if self.correlation:
            x = correlate(x, self.feature_set.columns, mjj, self.correlation)
        n_noise = int(self.options["noise_features"])
        if n_noise:
            key = np.column_stack([raw, mjj])
            x = np.hstack([x, noise_values(key, n_noise, int(self.options["noise_seed"]))])
        return x

    # training ------------------------------------------------------------------------
    def fit(self, data: TrainingData) -> None:
        """Flow on the sidebands, samples in the signal region, data against samples."""
        with torch_threads(self.options["threads"]):
            self._fit(data)

    def _fit(self, data: TrainingData) -> None:
        in_sr = np.asarray(data.in_signal_region, dtype=bool)
        in_sb = np.asarray(data.in_sideband, dtype=bool)
        where = f"region {data.region.name}" if data.region is not None else "the training data"
        if in_sr.sum() < 2 or in_sb.sum() < 10:
            raise RegionError(
                f"cathode: {where} has {int(in_sr.sum())} signal-region and {int(in_sb.sum())} "
                "sideband events; CATHODE needs both (check the window and the sidebands)"
            )
        mjj = np.asarray(data.events[data.resonant_feature], dtype=np.float64)
        if np.any(mjj[in_sr | in_sb] <= 0) or not np.all(np.isfinite(mjj[in_sr | in_sb])):
            raise RegionError(
                f"cathode: {where}: {data.resonant_feature} must be positive and finite"
            )
        used = in_sr | in_sb
        x = self._features(data.events.take(used))
        x_sr, x_sb = x[in_sr[used]], x[in_sb[used]]
        flow_seed, sample_seed, kde_seed, clf_seed = model_seeds(self.seed, 4)

        # 1. the flow learns p(x | mjj) on the sidebands
        self.scaler_ = LogitScaler.fit(x_sb)
        self.condition_ = LogStandardScaler.fit(mjj[in_sb])
        self.flow_ = ConditionalFlow(
            self.flow_config,
            seed=flow_seed,
            device=self._device(),
            progress=self.options["progress"],
        )
        self.flow_.fit(self.scaler_.transform(x_sb), self.condition_.transform(mjj[in_sb]))

        # 2. samples in the signal region, mjj from a KDE of the signal-region spectrum
        if data.region is not None:
            low, high = data.region.low, data.region.high
        else:
            low, high = float(mjj[in_sr].min()), float(mjj[in_sr].max())
        self.n_samples_ = max(2, round(float(self.options["oversampling"]) * in_sr.sum()))
        m_samples = kde_sample(
            mjj[in_sr], self.n_samples_, low, high, kde_seed, self.options["kde_bandwidth"]
        )
        x_samples = self.sample_features(m_samples, seed=sample_seed)
        x_samples = x_samples[np.all(np.isfinite(x_samples), axis=1)]

        # 3. the classifier: signal-region data (1) against samples (0)
        self.n_signal_region_, self.n_template_ = len(x_sr), len(x_samples)
        X, y = _data_against_samples(x_sr, x_samples)
        self.classifier_ = make_classifier(*self._classifier_args, seed=clf_seed)
        if self.options["screen_reference"] == "sidebands":
            held = self.flow_.valid_index_
            reference = self._sideband_reference(x_sb[held], mjj[in_sb][held], sample_seed + 1)
            self.classifier_.fit(X, y, screen_reference=(*reference, None))
        else:
            self.classifier_.fit(X, y)

    def _sideband_reference(
        self, x_held: np.ndarray, m_held: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Held-out sideband data (1) against the flow's samples at their mjj (0).

        No signal is expected there, so what a classifier learns from it is the flow's
        mismodelling: a closure test of the flow on events it never trained on.
        """
        rng = np.random.default_rng(seed)
        n = max(2, round(float(self.options["oversampling"]) * len(x_held)))
        samples = self.sample_features(rng.choice(m_held, n), seed=seed)
        return _data_against_samples(x_held, samples[np.all(np.isfinite(samples), axis=1)])

    def sample_features(self, mjj: np.ndarray, seed: int = 0) -> np.ndarray:
        """Background features sampled from the trained flow ensemble at the given mjj."""
        if self.flow_ is None or self.scaler_ is None or self.condition_ is None:
            raise RuntimeError("cathode: sample_features called before fit")
        with torch_threads(self.options["threads"]):
            z = self.flow_.sample(self.condition_.transform(mjj), seed=seed)
        return self.scaler_.inverse(z)

    def fit_summary(self) -> dict[str, Any]:
        """Event counts, the flow epochs kept, and the features the classifier scores on."""
        if self.classifier_ is None or self.flow_ is None:
            return {}
        return {
            "signal_region_events": self.n_signal_region_,
            "template_events": self.n_template_,
            "flow_epochs": sorted(int(epoch) for _, epoch, _ in self.flow_.best_),
            "features": kept_features(self.classifier_, self.feature_names),
            **screen_summary(self.classifier_, self.feature_names),
        }

    def score(self, events: EventTable) -> np.ndarray:
        """The classifier's output: higher means more unlike the interpolated background."""
        if self.classifier_ is None:
            raise RuntimeError("cathode: score called before fit")
        with torch_threads(self.options["threads"]):
            scores = self.classifier_.predict(self._features(events))
        return np.asarray(scores, dtype=np.float64)


def kde_sample(
    m: np.ndarray, n: int, low: float, high: float, seed: int, bandwidth: float | None = None
) -> np.ndarray:
    """`n` values from a Gaussian KDE of `m`, reflected at the window edges [low, high].

    Reflection (Silverman 1986, Sec. 2.10) keeps the estimate's mass inside the window
    without the drop at the edges of a plain KDE cut to the window.
    """
    from scipy.stats import gaussian_kde

    m = np.asarray(m, dtype=np.float64)
    rng = np.random.default_rng(seed)
    if np.unique(m).size < 2:  # a KDE needs spread; a constant spectrum samples itself
        return np.full(n, m[0])
    kde = gaussian_kde(m, bw_method=bandwidth)
    s = kde.resample(n, seed=rng)[0]
    width = high - low
    for _ in range(4):  # several reflections only for a bandwidth wider than the window
        s = np.where(s < low, 2 * low - s, s)
        s = np.where(s > high, 2 * high - s, s)
    return np.clip(s, low, np.nextafter(high, low) if width > 0 else high)


def _flow_config(o: Mapping[str, Any]) -> FlowConfig:
    hidden = o["flow_hidden"]
    if (
        not isinstance(hidden, (list, tuple))
        or not hidden
        or not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden)
    ):
        raise ConfigError(
            f"cathode: option 'flow_hidden' must be a list of positive layer widths, got {hidden!r}"
        )
    frac = open_fraction(o, "flow_validation_fraction", "cathode")
    wd = number_at_least(o, "flow_weight_decay", "cathode", 0)
    max_events = o["flow_max_events"]
    if max_events is not None:
        max_events = positive_int(o, "flow_max_events", "cathode")
    kind = o["flow_type"]
    if kind not in ("maf", "nsf"):
        raise ConfigError(f"cathode: option 'flow_type' must be 'maf' or 'nsf', got {kind!r}")
    cfg = FlowConfig(
        kind=kind,
        bins=positive_int(o, "flow_bins", "cathode"),
        transforms=positive_int(o, "flow_transforms", "cathode"),
        hidden=tuple(hidden),
        epochs=positive_int(o, "flow_epochs", "cathode"),
        batch_size=positive_int(o, "flow_batch_size", "cathode"),
        learning_rate=positive_number(o, "flow_learning_rate", "cathode"),
        weight_decay=wd,
        validation_fraction=frac,
        n_best_epochs=positive_int(o, "flow_n_best_epochs", "cathode"),
        max_events=max_events,
    )
    if cfg.n_best_epochs > cfg.epochs:
        raise ConfigError(
            f"cathode: option 'flow_n_best_epochs' ({cfg.n_best_epochs}) cannot exceed "
            f"'flow_epochs' ({cfg.epochs})"
        )
    return cfg


def _data_against_samples(x: np.ndarray, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The classifier's problem: data (label 1) against template samples (label 0)."""
    X = np.vstack([x, samples])
    return X, np.concatenate([np.ones(len(x), np.int64), np.zeros(len(samples), np.int64)])


def _classifier_args(options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    name, args = classifier_spec("cathode", options)
    if name == "mlp":  # the torch classifier follows the method's device and progress bars
        args.setdefault("device", options["device"])
        args.setdefault("progress", options["progress"])
    return name, args
