"""Tag N' Train: an autoencoder tags one jet, a classifier learns on the other.

Amram and Suarez (arXiv:2002.12376) turn a weak anomaly score into a stronger
classifier without labels. In a dijet event from a resonance both jets are signal-like;
in QCD the jets' substructure is nearly independent. So:

1. a starting tagger, an autoencoder trained on all jets (background dominated), scores
   each jet by its reconstruction error;
2. the sample is split by the *other* jet's score into a signal-rich and a
   background-rich part, and a classifier learns to tell them apart from the jet's own
   features (by the CWoLa theorem, arXiv:1708.02949, its optimum is monotonic in
   the signal/background likelihood ratio of that jet);
3. roles swapped, the same for the other jet; the event score combines both jets.

The CMS CASE search (arXiv:2412.03747) used it per signal region with the mjj window:
signal-rich = other jet's autoencoder percentile > 80 (65 or 50 at high mass) and the
event in the signal region; background-rich = percentile < 50 or the event in the
sidebands; one classifier on the jets in random order (both roles stacked); event score
q1 * q2, the product of the jets' classifier-score quantiles. Here the classifier is a
shared backend of ``casehunt.classifiers`` (boosted trees by default), the same as
casehunt-cwola's, so the two methods compare like for like. The paper's "iterated" TNT
is the option ``iterations``: the classifiers of one round become the taggers
of the next.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from casehunt.classifiers import (
    classifier_spec,
    combine_jet_quantiles,
    make_classifier,
    model_seeds,
    quantile_knots,
)
from casehunt.errors import ConfigError, RegionError
from casehunt.events import EventTable
from casehunt.features import CASE_JET, FeatureSet, resolve_features
from casehunt.methods import SelectionMethod, TrainingData
from casehunt.options import open_fraction, positive_int, positive_number
from casehunt_tnt.autoencoder import DEVICE_PATTERN, AEConfig, JetAutoencoder
from casehunt_tnt.jets import CONSTITUENT_COLUMNS, constituent_inputs, jet_features, jet_order
from casehunt_tnt.tagging import (
    BACKGROUND_RICH,
    SIGNAL_RICH,
    percentile_rank,
    tag_labels,
)


class TagNTrain(SelectionMethod):
    """Per signal region: an autoencoder tags each jet's partner, classifiers learn per jet."""

    name: ClassVar[str] = "tnt"
    training = "per_region"
    inputs: ClassVar[frozenset[str]] = frozenset(CASE_JET.columns)
    description: ClassVar[str] = (
        "Tag N' Train: an autoencoder on one jet tags signal-rich and background-rich "
        "events, a classifier learns on the other jet (arXiv:2002.12376)"
    )
    default_options: ClassVar[Mapping[str, Any]] = {
        # per-jet features of the classifier (and of the autoencoder with inputs
        # "features"): a per-jet set name ("case_jet": soft-drop mass, tau21, tau32, tau43,
        # number of constituents) or a list of per-jet (N, 2) columns
        "jet_features": "case_jet",
        # per-jet (N, 2) column that orders the jets, larger first (CASE: soft-drop mass);
        # null keeps the stored (pT) order
        "order_by": "jet_msd",
        # autoencoder inputs: "features" (jet_features) or "constituents" (the
        # n_constituents hardest constituents, relative to the jet axis; needs jet_const)
        "inputs": "features",
        "n_constituents": 20,
        # dense autoencoder: encoder widths (mirrored in the decoder) and bottleneck size
        "ae_hidden": [32, 16],
        "ae_latent": 2,
        "ae_epochs": 30,
        "ae_batch_size": 512,
        "ae_learning_rate": 1e-3,
        # epochs without a lower validation loss before stopping (best epoch kept)
        "ae_patience": 5,
        "ae_validation_fraction": 0.2,
        # CASE: signal-rich = other jet above this percentile and in the signal region
        "signal_rich_percentile": 80.0,
        # CASE: background-rich = other jet below this percentile or in the sidebands
        "background_rich_percentile": 50.0,
        # true (CASE): one classifier on both jets' rows; false (the paper): one per jet
        "shared_classifier": True,
        # event score from the two jets' classifier-score quantiles: "product" (CASE),
        # q1 * q2; "fisher", -log((1 - q1)(1 - q2)), Fisher's combination of the jets'
        # background tail probabilities, which keeps ranking in the far tail
        "combine": "product",
        # tagging rounds: 1 is TNT; 2 is the paper's iterated TNT (the first round's
        # classifiers, cross-fitted on the training events, tag the second round)
        "iterations": 1,
        # a backend of casehunt.classifiers: "hgb" (boosted trees) or "mlp" (torch)
        "classifier": "hgb",
        # classifier ensemble size inside each fold (CASE: 4)
        "n_models": 4,
        # passed to the classifier backend
        "classifier_options": {},
        # "auto" (a GPU when TensorFlow sees one), "cpu", "gpu", "gpu:1", ...
        "device": "auto",
        # tqdm progress bars while training
        "progress": True,
    }

    def __init__(self, options: Mapping[str, Any] | None = None, seed: int = 0) -> None:
        super().__init__(options, seed)
        self.feature_set = _jet_feature_set(self.options["jet_features"])
        self.ae_config = _ae_config(self.options)
        self._check_options()
        self._classifier_args = _classifier_args(self.options)
        self.autoencoder_: JetAutoencoder | None = None
        self.classifiers_: list[Any] = []
        self.quantile_knots_: list[tuple[np.ndarray, np.ndarray]] = []
        self.labels_: np.ndarray | None = None

    # options -------------------------------------------------------------------------
    def _check_options(self) -> None:
        o = self.options
        if o["order_by"] is not None and (not isinstance(o["order_by"], str) or not o["order_by"]):
            raise ConfigError(
                f"tnt: option 'order_by' must be a per-jet column name or null, got {o['order_by']!r}"
            )
        if o["inputs"] not in ("features", "constituents"):
            raise ConfigError(
                f"tnt: option 'inputs' must be 'features' or 'constituents', got {o['inputs']!r}"
            )
        positive_int(o, "n_constituents", "tnt")
        positive_int(o, "iterations", "tnt")
        sig, bkg = o["signal_rich_percentile"], o["background_rich_percentile"]
        for key, v in (("signal_rich_percentile", sig), ("background_rich_percentile", bkg)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 100:
                raise ConfigError(f"tnt: option {key!r} must be a number in (0, 100), got {v!r}")
        if bkg > sig:
            raise ConfigError(
                f"tnt: option 'background_rich_percentile' ({bkg}) must not exceed "
                f"'signal_rich_percentile' ({sig})"
            )
        for key in ("shared_classifier", "progress"):
            if not isinstance(o[key], bool):
                raise ConfigError(f"tnt: option {key!r} must be true or false, got {o[key]!r}")
        if o["combine"] not in ("product", "fisher"):
            raise ConfigError(
                f"tnt: option 'combine' must be 'product' or 'fisher', got {o['combine']!r}"
            )
        device = o["device"]
        if not isinstance(device, str) or not DEVICE_PATTERN.match(device):
            raise ConfigError(
                f"tnt: option 'device' must be 'auto', 'cpu', 'gpu' or 'gpu:N', got {device!r}"
            )

    def required_columns(self) -> frozenset[str]:
        cols = set(self.feature_set.columns)
        if self.options["order_by"] is not None:
            cols.add(self.options["order_by"])
        if self.options["inputs"] == "constituents":
            cols.update(CONSTITUENT_COLUMNS)
        return frozenset(cols)

    # training ------------------------------------------------------------------------
    def fit(self, data: TrainingData) -> None:
        """Autoencoder on all jets, tags from the other jet, classifiers on the tagged jets."""
        in_sr = np.asarray(data.in_signal_region, dtype=bool)
        in_sb = np.asarray(data.in_sideband, dtype=bool)
        where = f"region {data.region.name}" if data.region is not None else "the training data"
        if in_sr.sum() < 2 or in_sb.sum() < 2:
            raise RegionError(
                f"tnt: {where} has {int(in_sr.sum())} signal-region and {int(in_sb.sum())} "
                "sideband events; Tag N' Train needs both (check the window and the sidebands)"
            )
        used = in_sr | in_sb
        events = data.events.take(used)
        in_sr, in_sb = in_sr[used], in_sb[used]
        order = jet_order(events, self.options["order_by"])
        x = jet_features(events, self.feature_set, order)  # (N, 2, F)
        ae_seed, *round_seeds = model_seeds(self.seed, 1 + self.options["iterations"])

        # 1. the starting tagger: one autoencoder for both jets. Both jets of a background
        # event are QCD jets, so one network sees twice the statistics and scores them on
        # the same scale; the ranking is per jet position (percentile_rank), which takes
        # out the difference between heavier and lighter jets.
        ae_in = x if self.options["inputs"] == "features" else self._constituents(events, order)
        flat = ae_in.reshape(2 * len(ae_in), -1)
        self.autoencoder_ = JetAutoencoder(self.ae_config, ae_seed, self.options["device"])
        self.autoencoder_.fit(flat, progress=self.options["progress"])
        tagger = self.autoencoder_.reconstruction_error(flat).reshape(len(ae_in), 2)

        # 2. tag and train; in the paper's iterated version the classifier scores of
        # one round, predicted out of sample, tag the next round
        n_rounds = self.options["iterations"]
        for r, seed in enumerate(round_seeds):
            labels = self._labels(tagger, in_sr, in_sb)
            if r == n_rounds - 1:
                self.labels_ = labels
                self.classifiers_ = self._train(x, labels, seed)
            else:
                tagger = self._cross_fit(x, labels, seed)

        # 3. each classifier's score -> its quantile among the training jets
        s = self._jet_scores(x)
        if self.options["shared_classifier"]:
            self.quantile_knots_ = [quantile_knots(s.ravel())]
        else:
            self.quantile_knots_ = [quantile_knots(s[:, 0]), quantile_knots(s[:, 1])]

    def _constituents(self, events: EventTable, order: np.ndarray) -> np.ndarray:
        return constituent_inputs(events, int(self.options["n_constituents"]), order)

    def _labels(self, tagger: np.ndarray, in_sr: np.ndarray, in_sb: np.ndarray) -> np.ndarray:
        labels = tag_labels(
            percentile_rank(tagger),
            in_sr,
            in_sb,
            float(self.options["signal_rich_percentile"]),
            float(self.options["background_rich_percentile"]),
        )
        for a in (0, 1) if not self.options["shared_classifier"] else (slice(None),):
            got = labels[:, a]
            if not (got == SIGNAL_RICH).any() or not (got == BACKGROUND_RICH).any():
                raise RegionError(
                    f"tnt: the tagging left {int((got == SIGNAL_RICH).sum())} signal-rich and "
                    f"{int((got == BACKGROUND_RICH).sum())} background-rich jets; a classifier "
                    "needs both (more signal-region events or looser percentile cuts)"
                )
        return labels

    def _train(self, x: np.ndarray, labels: np.ndarray, seed: int) -> list[Any]:
        """One shared classifier on both jets' rows, or one per jet position."""
        if self.options["shared_classifier"]:
            rows, y = x.reshape(-1, x.shape[2]), labels.ravel()
            keep = y >= 0
            return [make_classifier(*self._classifier_args, seed=seed).fit(rows[keep], y[keep])]
        out = []
        for a, s in enumerate(model_seeds(seed, 2)):
            keep = labels[:, a] >= 0
            clf = make_classifier(*self._classifier_args, seed=s)
            out.append(clf.fit(x[keep, a], labels[keep, a]))
        return out

    def _cross_fit(self, x: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
        """(N, 2) classifier scores of the training jets, each from a model that did not
        train on its event (two halves), to tag the next round without the in-sample
        memory of the classifier leaking the previous tag into the new one."""
        split_seed, *half_seeds = model_seeds(seed, 3)
        half = np.random.default_rng(split_seed).permutation(len(x)) % 2 == 0
        scores = np.empty(x.shape[:2])
        for part, s in zip((half, ~half), half_seeds, strict=True):
            classifiers = self._train(x[~part], labels[~part], s)
            scores[part] = _predict(classifiers, x[part])
        return scores

    # scoring -------------------------------------------------------------------------
    def score(self, events: EventTable) -> np.ndarray:
        """The event score from the jets' classifier-score quantiles (option ``combine``)."""
        if not self.classifiers_:
            raise RuntimeError("tnt: score called before fit")
        order = jet_order(events, self.options["order_by"])
        s = self._jet_scores(jet_features(events, self.feature_set, order))
        knots = self.quantile_knots_ * (2 if len(self.quantile_knots_) == 1 else 1)
        q = np.stack([np.interp(s[:, a], *knots[a]) for a in (0, 1)], axis=1)
        return combine_jet_quantiles(q, self.options["combine"])

    def jet_scores(self, events: EventTable) -> np.ndarray:
        """(N, 2) classifier scores of the jets in mass order (before the quantile map)."""
        if not self.classifiers_:
            raise RuntimeError("tnt: jet_scores called before fit")
        order = jet_order(events, self.options["order_by"])
        return self._jet_scores(jet_features(events, self.feature_set, order))

    def _jet_scores(self, x: np.ndarray) -> np.ndarray:
        return _predict(self.classifiers_, x)


def _predict(classifiers: Sequence[Any], x: np.ndarray) -> np.ndarray:
    """(N, 2) scores of the jets of (N, 2, F): the shared classifier, or one per position."""
    if len(classifiers) == 1:
        return np.asarray(classifiers[0].predict(x.reshape(-1, x.shape[2]))).reshape(len(x), 2)
    return np.stack([np.asarray(c.predict(x[:, a])) for a, c in enumerate(classifiers)], axis=1)


# option helpers ----------------------------------------------------------------------------


def _jet_feature_set(spec: Any) -> FeatureSet:
    if isinstance(spec, str):
        try:
            fs = resolve_features(spec)
        except ConfigError as exc:
            raise ConfigError(f"tnt: option 'jet_features': {exc}") from None
        if not fs.per_jet:
            raise ConfigError(
                f"tnt: option 'jet_features': {spec!r} is an event-level set; Tag N' Train "
                "needs per-jet features (case_jet, or a list of per-jet columns)"
            )
        return fs
    if not isinstance(spec, Sequence) or not spec or not all(isinstance(c, str) for c in spec):
        raise ConfigError(
            f"tnt: option 'jet_features' must be a per-jet feature-set name or a list of "
            f"per-jet columns, got {spec!r}"
        )
    return resolve_features(list(spec), per_jet=True)


def _ae_config(o: Mapping[str, Any]) -> AEConfig:
    hidden = o["ae_hidden"]
    if not isinstance(hidden, (list, tuple)) or not all(
        isinstance(h, (int, np.integer)) and not isinstance(h, bool) and h > 0 for h in hidden
    ):
        raise ConfigError(
            f"tnt: option 'ae_hidden' must be a list of positive layer widths, got {hidden!r}"
        )
    frac = open_fraction(o, "ae_validation_fraction", "tnt")
    return AEConfig(
        hidden=tuple(int(h) for h in hidden),
        latent=positive_int(o, "ae_latent", "tnt"),
        epochs=positive_int(o, "ae_epochs", "tnt"),
        batch_size=positive_int(o, "ae_batch_size", "tnt"),
        learning_rate=positive_number(o, "ae_learning_rate", "tnt"),
        patience=positive_int(o, "ae_patience", "tnt"),
        validation_fraction=frac,
    )


def _classifier_args(options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The backend and its options, checked now; the torch MLP follows device and progress."""
    name, args = classifier_spec("tnt", options)
    if name == "mlp":
        device = options["device"]
        args.setdefault("device", device.replace("gpu", "cuda") if device != "auto" else "auto")
        args.setdefault("progress", options["progress"])
    return name, args
