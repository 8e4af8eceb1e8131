"""A dense variational autoencoder for single jets, in TensorFlow/Keras.

Kingma and Welling (arXiv:1312.6114): an encoder maps a jet x to a Gaussian q(z | x)
with mean mu and log-variance log s^2, a decoder maps a latent z back to x. Training
minimises reconstruction + beta * KL(q(z | x) || N(0, 1)), z drawn by the
reparametrisation z = mu + s * e. CASE's VAE-QR (arXiv:2412.03747, Sec. 5) trains one
such model on jets of the data with beta = 0.5 and scores a jet by its reconstruction
loss + 0.5 KL: a jet unlike the bulk of QCD jets is reconstructed badly.

The reconstruction loss is the squared error summed over the (standardised) inputs, the
negative log-likelihood of a unit Gaussian decoder up to constants: with the mean over
inputs instead, the KL term would outweigh it by the number of inputs and the posterior
would collapse onto the prior. The score of a trained model uses z = mu (no sampling),
so it is a deterministic function of the jet.

Determinism: every random number comes from the seed (initial weights through seeded
Keras initialisers, the reparametrisation noise from a stateless generator keyed by the
step, the batch order from numpy); TensorFlow runs with op determinism and one thread, so
the same seed gives the same model on the CPU. The global random state of numpy, Python
and TensorFlow is left alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from casehunt.errors import ConfigError
from casehunt.training import progress_bar

_TF_CONFIGURED = False


def tensorflow() -> Any:
    """TensorFlow, configured once for reproducible training: op determinism, one thread.

    A VAE of this size does many small matrix products; on a shared CPU several threads
    mostly wait on each other, and one thread makes reductions run in a fixed order. The
    thread counts can only be set before TensorFlow's runtime starts: if something else
    started it first, its setting is kept (op determinism still holds).
    """
    global _TF_CONFIGURED
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no C++ start-up chatter
    # oneDNN's custom CPU kernels reorder floating-point sums by machine; off, the same
    # seed gives the same numbers everywhere (and TensorFlow stops announcing them)
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import tensorflow as tf

    if not _TF_CONFIGURED:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # the runtime is already running: keep its thread pools
            pass
        tf.config.experimental.enable_op_determinism()
        _TF_CONFIGURED = True
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"casehunt-vae needs the TensorFlow backend of Keras, but Keras runs on "
            f"{keras.backend.backend()!r}; unset KERAS_BACKEND or set it to 'tensorflow'"
        )
    return tf


def tf_device(device: str) -> str:
    """The TensorFlow device string for the method's `device` option."""
    tf = tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    if device == "auto":
        return "/GPU:0" if gpus else "/CPU:0"
    if device == "cpu":
        return "/CPU:0"
    if device == "gpu":
        if not gpus:
            raise ConfigError(
                "vae_qr: option 'device' is 'gpu' but TensorFlow sees no GPU (tensorflow-cpu "
                "has no GPU support; install tensorflow[and-cuda] for one, or use 'auto')"
            )
        return "/GPU:0"
    return device


@dataclass
class VAEConfig:
    """Architecture and training of the VAE (the method's options)."""

    latent_dim: int = 4
    hidden: tuple[int, ...] = (64, 32)
    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 1e-3
    patience: int = 4
    beta: float = 0.5


@dataclass
class JetVAE:
    """A VAE on fixed-length jet vectors, with its input standardisation."""

    config: VAEConfig
    seed: int = 0
    device: str = "/CPU:0"
    progress: bool = False
    mean_: np.ndarray | None = field(default=None, repr=False)
    scale_: np.ndarray | None = field(default=None, repr=False)
    history_: dict[str, list[float]] = field(default_factory=dict, repr=False)
    best_epoch_: int = -1
    _encoder: Any = field(default=None, repr=False)
    _decoder: Any = field(default=None, repr=False)
    _score_fn: Any = field(default=None, repr=False)

    # model -----------------------------------------------------------------------------
    def _build(self, n_inputs: int) -> None:
        tf = tensorflow()
        import keras

        seeds = iter(
            np.random.SeedSequence(self.seed).generate_state(2 * len(self.config.hidden) + 3)
        )

        def dense(width: int, activation: str | None = None) -> Any:
            init = keras.initializers.GlorotUniform(seed=int(next(seeds)))
            return keras.layers.Dense(width, activation=activation, kernel_initializer=init)

        with tf.device(self.device):
            x = keras.Input((n_inputs,))
            h = x
            for width in self.config.hidden:
                h = dense(width, "elu")(h)
            mu = dense(self.config.latent_dim)(h)
            log_var = dense(self.config.latent_dim)(h)
            self._encoder = keras.Model(x, [mu, log_var], name="vae_encoder")
            z = keras.Input((self.config.latent_dim,))
            h = z
            for width in reversed(self.config.hidden):
                h = dense(width, "elu")(h)
            self._decoder = keras.Model(z, dense(n_inputs)(h), name="vae_decoder")

    def _terms(self, x: Any, z_noise: Any | None) -> tuple[Any, Any]:
        """Per-jet reconstruction (summed squared error) and KL divergence to N(0, 1)."""
        import tensorflow as tf  # configured by fit() before this is traced

        mu, log_var = self._encoder(x)
        log_var = tf.clip_by_value(log_var, -12.0, 12.0)  # keeps exp() finite early on
        z = mu if z_noise is None else mu + tf.exp(0.5 * log_var) * z_noise
        x_hat = self._decoder(z)
        reconstruction = tf.reduce_sum(tf.square(x - x_hat), axis=1)
        # closed form of KL(N(mu, s^2) || N(0, 1)) (Kingma and Welling, Appendix B)
        kl = -0.5 * tf.reduce_sum(1.0 + log_var - tf.square(mu) - tf.exp(log_var), axis=1)
        return reconstruction, kl

    # training --------------------------------------------------------------------------
    def fit(self, x: np.ndarray, x_valid: np.ndarray) -> JetVAE:
        """Train on rows `x` (one jet each); stop early on the loss of `x_valid`."""
        tf = tensorflow()
        cfg = self.config
        x = np.asarray(x)
        self.mean_ = x.mean(axis=0, dtype=np.float64)
        std = x.std(axis=0, dtype=np.float64)
        self.scale_ = np.where(std > 1e-8, std, 1.0)
        x_t = self._standardised(x)
        x_v = self._standardised(x_valid)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 1]))
        noise_key = int(np.random.SeedSequence([self.seed, 2]).generate_state(1)[0] >> 1)
        beta = float(cfg.beta)
        latent = int(cfg.latent_dim)

        with tf.device(self.device):
            self._build(x.shape[1])
            variables = self._encoder.trainable_variables + self._decoder.trainable_variables
            optimizer = FusedAdam(variables, cfg.learning_rate)
            x_train = tf.constant(x_t)
            x_valid_t = tf.constant(x_v)

            # one trace for every batch size (the last batch of an epoch is smaller)
            @tf.function(
                input_signature=[tf.TensorSpec([None], tf.int64), tf.TensorSpec([], tf.int64)],
                autograph=False,
            )
            def train_step(idx: Any, step: Any) -> Any:
                batch = tf.gather(x_train, idx)
                seed = tf.stack([tf.constant(noise_key, tf.int64), tf.cast(step, tf.int64)])
                noise = tf.random.stateless_normal((tf.shape(batch)[0], latent), seed=seed)
                with tf.GradientTape() as tape:
                    reconstruction, kl = self._terms(batch, noise)
                    loss = tf.reduce_mean(reconstruction + beta * kl)
                grads = tape.gradient(loss, variables)
                optimizer.apply(grads)
                return loss

            best, best_weights, waited = np.inf, None, 0
            self.history_ = {"train_loss": [], "valid_loss": []}
            bar = progress_bar(cfg.epochs, "vae", self.progress)
            step = 0
            for epoch in range(cfg.epochs):
                order = rng.permutation(len(x_t))
                total = 0.0
                for lo in range(0, len(order), cfg.batch_size):
                    idx = order[lo : lo + cfg.batch_size]
                    loss = train_step(tf.constant(idx), tf.constant(step, tf.int64))
                    total += float(loss) * len(idx)
                    step += 1
                valid = float(np.mean(self._loss_of(x_valid_t)))
                self.history_["train_loss"].append(total / len(order))
                self.history_["valid_loss"].append(valid)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(train=f"{total / len(order):.4f}", valid=f"{valid:.4f}")
                if np.isfinite(valid) and valid < best:
                    best, waited, self.best_epoch_ = valid, 0, epoch
                    best_weights = (self._encoder.get_weights(), self._decoder.get_weights())
                else:
                    waited += 1
                    if waited > cfg.patience:
                        break
            if bar is not None:
                bar.close()
        if best_weights is None:
            raise RuntimeError(
                "the VAE's validation loss was never finite; lower the learning_rate"
            )
        self._encoder.set_weights(best_weights[0])
        self._decoder.set_weights(best_weights[1])
        return self

    def _standardised(self, x: np.ndarray) -> np.ndarray:
        assert self.mean_ is not None and self.scale_ is not None, "fit first"
        out = np.asarray(x, dtype=np.float32) - self.mean_.astype(np.float32)
        out /= self.scale_.astype(np.float32)
        return out

    def _loss_of(self, x: Any, chunk: int = 65536) -> np.ndarray:
        """Per-row reconstruction + beta KL at z = mu, for standardised rows (a tensor)."""
        out = []
        for lo in range(0, int(x.shape[0]), chunk):
            reconstruction, kl = self._score_step(x[lo : lo + chunk])
            out.append((reconstruction + self.config.beta * kl).numpy())
        return np.concatenate(out) if out else np.empty(0, dtype=np.float32)

    @property
    def _score_step(self) -> Any:
        tf = tensorflow()
        if self._score_fn is None:
            assert self.mean_ is not None, "fit first"
            self._score_fn = tf.function(
                lambda x: self._terms(x, None),
                input_signature=[tf.TensorSpec([None, len(self.mean_)], tf.float32)],
                autograph=False,
            )
        return self._score_fn

    # scoring ---------------------------------------------------------------------------
    def score(self, x: np.ndarray) -> np.ndarray:
        """Per-jet anomaly score: reconstruction + beta KL, at the latent mean (CASE)."""
        if self._encoder is None:
            raise RuntimeError("JetVAE.score called before fit")
        tf = tensorflow()
        with tf.device(self.device):
            return self._loss_of(tf.constant(self._standardised(x))).astype(np.float64)


class FusedAdam:
    """Adam (Kingma and Ba, arXiv:1412.6980) through TensorFlow's fused kernel.

    The same update as ``keras.optimizers.Adam`` (beta1 0.9, beta2 0.999, epsilon 1e-7;
    the validation losses of a 10-epoch fit agree to 1e-6), one ``ResourceApplyAdam`` op
    per variable.
    Keras 3's optimizer builds a graph of many small ops per variable whose tracing
    takes most of a short fit (0.7 s of about 2 s in the tests), once per fold model.
    """

    def __init__(self, variables: list[Any], learning_rate: float) -> None:
        tf = tensorflow()
        self.variables = [getattr(v, "value", v) for v in variables]  # Keras -> tf.Variable
        self.slots = [
            (
                tf.Variable(tf.zeros_like(v), trainable=False),
                tf.Variable(tf.zeros_like(v), trainable=False),
            )
            for v in self.variables
        ]
        # beta1^t and beta2^t, the bias corrections of step t
        self.powers = tf.Variable([1.0, 1.0], trainable=False)
        self.learning_rate = float(learning_rate)

    def apply(self, grads: list[Any]) -> None:
        """One update of every variable (call inside the traced training step)."""
        import tensorflow as tf

        beta1, beta2 = 0.9, 0.999
        self.powers.assign(self.powers * tf.constant([beta1, beta2]))
        for var, (m, v), grad in zip(self.variables, self.slots, grads, strict=True):
            tf.raw_ops.ResourceApplyAdam(
                var=var.handle,
                m=m.handle,
                v=v.handle,
                beta1_power=self.powers[0],
                beta2_power=self.powers[1],
                lr=tf.constant(self.learning_rate, var.dtype),
                beta1=tf.constant(beta1, var.dtype),
                beta2=tf.constant(beta2, var.dtype),
                epsilon=tf.constant(1e-7, var.dtype),
                grad=grad,
            )


def flat_rows(x: np.ndarray) -> np.ndarray:
    """(N, 2, ...) per-jet inputs as (2N, F) rows, jet 1 and jet 2 of each event in turn."""
    x = np.asarray(x)
    return x.reshape(x.shape[0] * x.shape[1], -1)
