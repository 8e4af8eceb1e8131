"""The starting tagger of Tag N' Train: a dense Keras autoencoder on single jets.

Amram and Suarez (arXiv:2002.12376) start from an autoencoder trained on all
jets: background dominates the data, so it learns to reconstruct background jets and
reconstructs rarer, signal-like jets worse. CASE (arXiv:2412.03747) used a CNN
autoencoder on 32 x 32 jet images with a latent size of 6; here the inputs are a jet's
high-level features or its hardest constituents (flat vectors), so the network is dense.

TensorFlow is imported on first use (it takes seconds), configured once for
reproducibility: one intra- and one inter-op thread and deterministic kernels, as the
casehunt contract asks (same seed, same scores).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from casehunt.training import progress_bar

_CONFIGURED = False


def tensorflow() -> Any:
    """The tensorflow module, configured once (threads, deterministic ops) before use.

    Thread counts can only be set before the TensorFlow runtime starts; if something else
    started it first, its setting stays (the result is still deterministic).
    """
    global _CONFIGURED
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no C++ start-up chatter
    # oneDNN's custom CPU kernels reorder floating-point sums by machine; off, the same
    # seed gives the same numbers everywhere (and TensorFlow stops announcing them)
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import tensorflow as tf

    if not _CONFIGURED:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # the runtime is already initialised
            pass
        tf.config.experimental.enable_op_determinism()
        _CONFIGURED = True
    return tf


def keras_module() -> Any:
    """Keras 3 on its TensorFlow backend (the training loop below is TensorFlow code)."""
    tensorflow()
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"casehunt-tnt needs Keras on the TensorFlow backend, but KERAS_BACKEND is "
            f"{keras.backend.backend()!r}; unset it or set it to 'tensorflow'"
        )
    return keras


DEVICE_PATTERN = re.compile(r"^(auto|cpu|gpu(:\d+)?)$")


def tf_device(device: str) -> str:
    """A TensorFlow device name from the method's option: "auto" takes the first GPU if any."""
    tf = tensorflow()
    if device == "auto":
        return "/GPU:0" if tf.config.list_physical_devices("GPU") else "/CPU:0"
    if device == "cpu":
        return "/CPU:0"
    index = device.split(":")[1] if ":" in device else "0"
    if not tf.config.list_physical_devices("GPU"):
        raise RuntimeError(f"tnt: device {device!r} asked for, but TensorFlow sees no GPU")
    return f"/GPU:{index}"


@dataclass
class AEConfig:
    """Architecture and training of the autoencoder (the method's ``ae_*`` options)."""

    hidden: tuple[int, ...] = (32, 16)
    latent: int = 2
    epochs: int = 30
    batch_size: int = 512
    learning_rate: float = 1e-3
    patience: int = 5
    validation_fraction: float = 0.2


class JetAutoencoder:
    """A dense autoencoder on standardised jet vectors; the score is the reconstruction MSE.

    Trained with Adam on the mean squared error, keeping the weights of the epoch with the
    lowest loss on a held-out validation part and stopping after `patience` epochs
    without improvement.
    """

    def __init__(self, config: AEConfig, seed: int, device: str = "auto") -> None:
        self.config = config
        self.seed = int(seed)
        self.device = device
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.model_: Any = None
        self.history_: dict[str, list[float]] = {"loss": [], "val_loss": []}

    def fit(self, x: np.ndarray, progress: bool = False) -> JetAutoencoder:
        """Train on the rows of `x` (jets, features)."""
        tf = tensorflow()
        keras = keras_module()
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or len(x) < 4:
            raise ValueError(f"the autoencoder needs a (jets, features) array, got {x.shape}")
        self.mean_ = x.mean(axis=0)
        std = x.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        z = self._standardise(x)

        cfg = self.config
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(z))
        n_valid = min(max(1, round(cfg.validation_fraction * len(z))), len(z) - 1)
        valid, train = z[order[:n_valid]], z[order[n_valid:]]
        keras.utils.set_random_seed(self.seed % 2**31)
        n_in = z.shape[1]
        with tf.device(tf_device(self.device)):
            model = _build(keras, n_in, cfg.hidden, cfg.latent)
            optimizer = keras.optimizers.Adam(cfg.learning_rate)
            # built before tracing, so the step is traced once (no variables made inside)
            optimizer.build(model.trainable_variables)
            spec = [tf.TensorSpec([None, n_in], tf.float32)]

            @tf.function(input_signature=spec, autograph=False)
            def step(batch: Any) -> Any:
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(tf.square(model(batch, training=True) - batch))
                grads = tape.gradient(loss, model.trainable_variables)
                optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
                return loss

            self._errors = tf.function(
                lambda batch: tf.reduce_mean(tf.square(model(batch, training=False) - batch), 1),
                input_signature=spec,
                autograph=False,
            )
            self.model_ = model
            best, best_weights, waited = np.inf, model.get_weights(), 0
            bar = progress_bar(cfg.epochs, "tnt autoencoder", progress)
            for _ in range(cfg.epochs):
                perm = rng.permutation(len(train))
                losses = [
                    float(step(train[perm[i : i + cfg.batch_size]]))
                    for i in range(0, len(train), cfg.batch_size)
                ]
                val_loss = float(np.mean(self._mse(valid)))
                self.history_["loss"].append(float(np.mean(losses)))
                self.history_["val_loss"].append(val_loss)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(val_loss=f"{val_loss:.4f}")
                if val_loss < best:
                    best, best_weights, waited = val_loss, model.get_weights(), 0
                else:
                    waited += 1
                    if waited >= cfg.patience:
                        break
            if bar is not None:
                bar.close()
            model.set_weights(best_weights)
        return self

    def reconstruction_error(self, x: np.ndarray) -> np.ndarray:
        """Per-row mean squared error of the standardised inputs: higher = less background-like."""
        if self.model_ is None:
            raise RuntimeError("JetAutoencoder.reconstruction_error called before fit")
        tf = tensorflow()
        with tf.device(tf_device(self.device)):
            return self._mse(self._standardise(np.asarray(x, dtype=np.float64)))

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        assert self.mean_ is not None and self.scale_ is not None
        return ((x - self.mean_) / self.scale_).astype(np.float32)

    def _mse(self, z: np.ndarray, chunk: int = 65536) -> np.ndarray:
        parts = [self._errors(z[i : i + chunk]).numpy() for i in range(0, len(z), chunk)]
        return np.concatenate(parts).astype(np.float64) if parts else np.empty(0)


def _build(keras: Any, n_in: int, hidden: Sequence[int], latent: int) -> Any:
    """Encoder hidden layers -> linear bottleneck of size `latent` -> mirrored decoder."""
    inputs = keras.Input((n_in,))
    h = inputs
    for width in hidden:
        h = keras.layers.Dense(width, activation="elu")(h)
    h = keras.layers.Dense(latent)(h)
    for width in reversed(hidden):
        h = keras.layers.Dense(width, activation="elu")(h)
    return keras.Model(inputs, keras.layers.Dense(n_in)(h))
