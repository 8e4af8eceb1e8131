"""VAE-QR: a jet autoencoder's anomaly score, made flat in mjj by quantile regression.

CMS CASE (arXiv:2412.03747, Sec. 5, "VAE-QR"; built on Kingma and Welling,
arXiv:1312.6114): a variational autoencoder learns what jets of the data look like;
with a small signal fraction that is QCD. One model serves both jets (each jet is a
training row). A jet's score is its reconstruction loss + 0.5 KL; an event's is the
smaller of its two jets' (both jets must look anomalous). A plain cut on that score
sculpts mjj, because QCD jet masses, and with them the score, grow with mjj; quantile
regression of the score against mjj fixes the threshold at each mjj so that the
background efficiency is the same everywhere.

Here the method is global: the core trains it once per fold on all events of the other
folds, no signal region involved. Within a fold:

1. the events are split at random into a training part and a validation part
   (``validation_fraction``); the VAE trains on the jets of the first, stops early on
   the second;
2. the raw scores of the validation events, which the VAE did not train on, go into a
   quantile regression against mjj (curves at the ``qr_quantiles`` levels, polynomials
   of degree ``qr_degree`` in log mjj; casehunt_vae.quantiles);
3. an event's score is the conditional CDF level of its raw score at its mjj: a cut
   at 1 - eps keeps a fraction eps of the background at every mjj, and the core's
   sideband threshold at efficiency eps lands near 1 - eps.

Inputs (``inputs``): "constituents" - the ``n_constituents`` hardest constituents of
each jet as (pT / jet pT, eta - jet eta, phi - jet phi) around the jet axis, pT-ordered,
zero-padded, flattened (CASE's VAE read constituents); or "features" - a per-jet
feature vector (CASE's per-jet set by default), for data without constituents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from casehunt.errors import ConfigError, InputError
from casehunt.events import EventTable, check_finite
from casehunt.features import FeatureSet, resolve_features
from casehunt.methods import SelectionMethod, TrainingData
from casehunt.options import (
    int_at_least,
    number_at_least,
    open_fraction,
    positive_int,
    positive_number,
)
from casehunt.readers import padded_from_constituents
from casehunt_vae.quantiles import QuantileCalibration
from casehunt_vae.vae import JetVAE, VAEConfig, flat_rows, tensorflow, tf_device

#: Columns of the constituent mode: the constituents and the jet axes they are relative to.
CONSTITUENT_COLUMNS = ("jet_const", "jet_pt", "jet_eta", "jet_phi")
#: Architecture defaults per input mode, for ``latent_dim`` and ``hidden`` left null: the
#: flattened constituents (3 x 50 numbers) need a wider network than five features.
MODE_DEFAULTS: dict[str, dict[str, Any]] = {
    "constituents": {"latent_dim": 8, "hidden": (128, 64)},
    "features": {"latent_dim": 2, "hidden": (32, 16)},
}
#: CASE's quantiles spanned 0.3-0.99; the higher levels calibrate the 1% and 0.1%
#: selections of the benchmark.
# how an event's score follows from its two jets' (N, 2) scores
EVENT_SCORES: dict[str, Callable[..., np.ndarray]] = {"min": np.min, "max": np.max, "sum": np.sum}
DEFAULT_LEVELS = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)


class VAEQR(SelectionMethod):
    """One jet VAE over all events; its event score calibrated flat in mjj."""

    name: ClassVar[str] = "vae_qr"
    training = "global"
    inputs: ClassVar[frozenset[str]] = frozenset({*CONSTITUENT_COLUMNS, "mjj"})
    description: ClassVar[str] = (
        "VAE-QR (CMS CASE): min over jets of a jet VAE's reconstruction + 0.5 KL, "
        "quantile-regressed against mjj to a flat-efficiency score (arXiv:2412.03747)"
    )
    default_options: ClassVar[Mapping[str, Any]] = {
        # "constituents" (jet_const around the jet axes) or "features" (per-jet columns)
        "inputs": "constituents",
        # constituents per jet, the hardest first, zero-padded
        "n_constituents": 50,
        # "features" mode: a per-jet feature set name ("case_jet") or a list of (N, 2) columns
        "features": "case_jet",
        # null: 8 for constituents, 2 for features
        "latent_dim": None,
        # encoder layer widths (the decoder mirrors them); null: [128, 64] for
        # constituents, [32, 16] for features
        "hidden": None,
        "epochs": 30,
        "batch_size": 256,
        "learning_rate": 1e-3,
        # epochs without a better validation loss before stopping; the best epoch is kept
        "patience": 4,
        # events held out of the VAE's training: its early stopping, and the quantile fit
        "validation_fraction": 0.25,
        # weight of the KL term in the loss and in the jet score (CASE: 0.5)
        "beta": 0.5,
        # the event's score from its two jets' scores: "min" (CASE: both jets must look
        # anomalous), "max" (either jet) or "sum"
        "event_score": "min",
        # levels of the quantile curves (CASE: 0.3 ... 0.99)
        "qr_quantiles": list(DEFAULT_LEVELS),
        # degree of each curve's polynomial in log mjj
        "qr_degree": 4,
        # "auto" (a GPU if TensorFlow sees one), "cpu", "gpu" or a TensorFlow device string
        "device": "auto",
        # tqdm progress bar over the VAE's epochs
        "progress": True,
    }

    def __init__(self, options: Mapping[str, Any] | None = None, seed: int = 0) -> None:
        super().__init__(options, seed)
        self._check_options()
        self.vae_: JetVAE | None = None
        self.calibration_: QuantileCalibration | None = None
        self.resonant_feature_ = "mjj"

    # options -------------------------------------------------------------------------
    def _check_options(self) -> None:
        o = self.options
        mode = o["inputs"]
        if mode not in MODE_DEFAULTS:
            raise ConfigError(
                f"vae_qr: option 'inputs' must be 'constituents' or 'features', got {mode!r}"
            )
        self.mode: str = mode
        self.n_constituents = positive_int(o, "n_constituents", "vae_qr")
        self.feature_set = _feature_set(o["features"])
        latent = o["latent_dim"]
        latent = (
            MODE_DEFAULTS[mode]["latent_dim"]
            if latent is None
            else positive_int(o, "latent_dim", "vae_qr")
        )
        hidden = o["hidden"]
        if hidden is None:
            hidden = MODE_DEFAULTS[mode]["hidden"]
        elif (
            not isinstance(hidden, (list, tuple))
            or not hidden
            or not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden)
        ):
            raise ConfigError(
                f"vae_qr: option 'hidden' must be null or a list of positive layer widths, "
                f"got {hidden!r}"
            )
        beta = number_at_least(o, "beta", "vae_qr", 0)
        self.vae_config = VAEConfig(
            latent_dim=int(latent),
            hidden=tuple(int(h) for h in hidden),
            epochs=positive_int(o, "epochs", "vae_qr"),
            batch_size=positive_int(o, "batch_size", "vae_qr"),
            learning_rate=positive_number(o, "learning_rate", "vae_qr"),
            patience=int_at_least(o, "patience", "vae_qr", 0),
            beta=beta,
        )
        if o["event_score"] not in EVENT_SCORES:
            raise ConfigError(
                "vae_qr: option 'event_score' must be one of "
                f"{', '.join(map(repr, EVENT_SCORES))}, got {o['event_score']!r}"
            )
        self.combine_jets = EVENT_SCORES[o["event_score"]]
        open_fraction(o, "validation_fraction", "vae_qr")
        levels = o["qr_quantiles"]
        if (
            not isinstance(levels, (list, tuple))
            or len(levels) < 2
            or not all(isinstance(q, (int, float)) and not isinstance(q, bool) for q in levels)
            or not all(0 < q < 1 for q in levels)
            or len(set(levels)) != len(levels)
        ):
            raise ConfigError(
                "vae_qr: option 'qr_quantiles' must be a list of at least two distinct levels "
                f"in (0, 1), got {levels!r}"
            )
        self.levels = tuple(sorted(float(q) for q in levels))
        self.qr_degree = int_at_least(o, "qr_degree", "vae_qr", 0)
        device = o["device"]
        if not isinstance(device, str) or not (
            device in ("auto", "cpu", "gpu") or device.startswith("/")
        ):
            raise ConfigError(
                "vae_qr: option 'device' must be 'auto', 'cpu', 'gpu' or a TensorFlow device "
                f"string such as '/GPU:1', got {device!r}"
            )
        if not isinstance(o["progress"], bool):
            raise ConfigError(
                f"vae_qr: option 'progress' must be true or false, got {o['progress']!r}"
            )

    def required_columns(self) -> frozenset[str]:
        if self.mode == "constituents":
            return frozenset({*CONSTITUENT_COLUMNS, "mjj"})
        return frozenset({*self.feature_set.columns, "mjj"})

    # inputs --------------------------------------------------------------------------
    def jet_inputs(self, events: EventTable) -> np.ndarray:
        """(N, 2, F) inputs of each jet: relative constituents (flattened) or features."""
        if self.mode == "features":
            check_finite(events, self.feature_set.columns)
            return self.feature_set.jet_matrix(events)
        check_finite(events, CONSTITUENT_COLUMNS[1:])
        axes = [np.asarray(events[c], dtype=np.float64) for c in CONSTITUENT_COLUMNS[1:]]
        for name, axis in zip(CONSTITUENT_COLUMNS[1:], axes, strict=True):
            if axis.shape != (events.n_events, 2):
                raise InputError(
                    f"{events.source}: column {name!r} has shape {axis.shape}, expected "
                    f"({events.n_events}, 2) (the two jets, as in jet_const)"
                )
        return relative_constituents(
            padded_from_constituents(events["jet_const"], self.n_constituents), *axes
        ).reshape(events.n_events, 2, -1)

    # training and scoring ------------------------------------------------------------
    def fit(self, data: TrainingData) -> None:
        """VAE on the jets of most events; quantile curves on the scores of the others."""
        events = data.events
        self.resonant_feature_ = data.resonant_feature
        mjj = _resonant(events, data.resonant_feature)
        x = self.jet_inputs(events)
        n = events.n_events
        n_valid = round(float(self.options["validation_fraction"]) * n)
        if n_valid < 2 or n - n_valid < 2:
            raise InputError(
                f"vae_qr: {n} training events leave {n_valid} for validation and "
                f"{n - n_valid} for training; give more events"
            )
        split_seed, vae_seed = np.random.SeedSequence(self.seed).generate_state(2)
        order = np.random.default_rng(split_seed).permutation(n)
        valid, train = np.sort(order[:n_valid]), np.sort(order[n_valid:])

        tensorflow()  # configure TensorFlow before anything of it runs
        self.vae_ = JetVAE(
            self.vae_config,
            seed=int(vae_seed),
            device=tf_device(self.options["device"]),
            progress=self.options["progress"],
        )
        self.vae_.fit(flat_rows(x[train]), flat_rows(x[valid]))
        raw_valid = self._event_scores(x[valid])
        self.calibration_ = QuantileCalibration.fit(
            raw_valid, mjj[valid], self.levels, self.qr_degree
        )

    def raw_scores(self, events: EventTable) -> np.ndarray:
        """The jets' reconstruction + beta KL, combined by `event_score` (before the QR)."""
        if self.vae_ is None:
            raise RuntimeError("vae_qr: raw_scores called before fit")
        return self._event_scores(self.jet_inputs(events))

    def _event_scores(self, x: np.ndarray) -> np.ndarray:
        assert self.vae_ is not None
        if len(x) == 0:
            return np.empty(0)
        return self.combine_jets(self.vae_.score(flat_rows(x)).reshape(len(x), 2), axis=1)

    def score(self, events: EventTable) -> np.ndarray:
        """The conditional CDF level of the raw score at the event's mjj (flat in mjj)."""
        if self.calibration_ is None:
            raise RuntimeError("vae_qr: score called before fit")
        mjj = _resonant(events, self.resonant_feature_)
        return self.calibration_.transform(self.raw_scores(events), mjj)


def relative_constituents(
    padded: np.ndarray, jet_pt: np.ndarray, jet_eta: np.ndarray, jet_phi: np.ndarray
) -> np.ndarray:
    """(N, 2, M, 3) constituents as (pT / jet pT, eta - jet eta, phi - jet phi in (-pi, pi]).

    Padding slots (pT = 0) stay zero.
    """
    pt, eta, phi = padded[..., 0], padded[..., 1], padded[..., 2]
    real = pt > 0
    jet_pt = jet_pt[..., None]
    rel_pt = np.divide(pt, jet_pt, out=np.zeros(pt.shape), where=jet_pt > 0)
    d_eta = eta - jet_eta[..., None]
    d_phi = np.mod(phi - jet_phi[..., None] + np.pi, 2 * np.pi) - np.pi
    out = np.stack([rel_pt, d_eta, d_phi], axis=-1).astype(np.float32)
    out[~real] = 0.0
    return out


def _resonant(events: EventTable, name: str) -> np.ndarray:
    m = np.asarray(events[name], dtype=np.float64)
    if not (np.all(np.isfinite(m)) and np.all(m > 0)):
        raise InputError(
            f"{events.source}: column {name!r} must be positive and finite for the quantile "
            "regression against it"
        )
    return m


def _feature_set(spec: Any) -> FeatureSet:
    if not isinstance(spec, str) and not isinstance(spec, Sequence):
        raise ConfigError(
            f"vae_qr: option 'features' must be a per-jet feature-set name or a list of "
            f"per-jet columns, got {spec!r}"
        )
    try:
        fs = resolve_features(spec, per_jet=True)
    except ConfigError as exc:
        raise ConfigError(f"vae_qr: option 'features': {exc}") from None
    if not fs.per_jet:
        raise ConfigError(
            f"vae_qr: option 'features': {spec!r} is an event-level set; the VAE reads one "
            "jet at a time (give 'case_jet' or a list of (N, 2) columns)"
        )
    return fs
