"""A small fully connected network, the classifier of CATHODE and of the LHCO CWoLa studies.

CATHODE (Hallin et al., arXiv:2109.00546) trains a 3 x 64 MLP with Adam and a binary
cross entropy, and averages the predictions of its best validation epochs, which
stabilises the noisy weakly supervised training. That is the default here, with balanced
classes, standardised inputs and early stopping on a validation split.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
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
    stratified_split,
)
from casehunt.training import torch_threads


def _is_layer_list(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and len(v) > 0 and all(is_positive_int(n) for n in v)


@dataclass(eq=False)
class TorchMLP(OptionsMixin):
    """`n_models` MLPs, each averaging its `n_best_epochs` best validation epochs.

    Runs on CUDA when available (``device="auto"``); on the CPU the result is the same for
    the same seed. Each member draws its own validation split.
    """

    n_models: int = 1
    hidden: tuple[int, ...] = (64, 64, 64)
    dropout: float = 0.0
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 256
    max_epochs: int = 100
    # weakly supervised validation losses are flat and noisy: stopping too soon costs much
    patience: int = 20
    n_best_epochs: int = 5
    validation_fraction: float = 0.2
    device: str = "auto"
    # CPU threads while fitting and predicting (restored afterwards); None: torch's default.
    # Small networks gain nothing from more, and a busy shared machine loses a lot.
    n_threads: int | None = 1
    progress: bool = False
    seed: int = 0
    members_: list[list[Any]] = field(default_factory=list, init=False, repr=False)
    mean_: np.ndarray | None = field(default=None, init=False, repr=False)
    scale_: np.ndarray | None = field(default=None, init=False, repr=False)
    history_: list[dict[str, list[float]]] = field(default_factory=list, init=False, repr=False)

    checks: ClassVar[dict[str, tuple[Any, str]]] = {
        "n_models": (is_positive_int, "a positive integer"),
        "hidden": (_is_layer_list, "a list of positive layer widths"),
        "dropout": (
            lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1,
            "a number in [0, 1)",
        ),
        "learning_rate": (is_positive_number, "a positive number"),
        "weight_decay": (
            lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
            "a number >= 0",
        ),
        "batch_size": (is_positive_int, "a positive integer"),
        "max_epochs": (is_positive_int, "a positive integer"),
        "patience": (is_positive_int, "a positive integer"),
        "n_best_epochs": (is_positive_int, "a positive integer"),
        "validation_fraction": (is_fraction, "a number between 0 and 1"),
        "device": (lambda v: isinstance(v, str) and v != "", "'auto', 'cpu' or a torch device"),
        "n_threads": (lambda v: v is None or is_positive_int(v), "a positive integer or null"),
        "progress": (lambda v: isinstance(v, bool), "true or false"),
    }

    def _device(self) -> Any:
        import torch

        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def _network(self, n_features: int) -> Any:
        from torch import nn

        layers: list[Any] = []
        width = n_features
        for n in self.hidden:
            layers += [nn.Linear(width, int(n)), nn.ReLU()]
            if self.dropout > 0:
                layers.append(nn.Dropout(self.dropout))
            width = int(n)
        layers.append(nn.Linear(width, 1))
        return nn.Sequential(*layers)

    def fit(
        self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> TorchMLP:
        X, y, sample_weight = check_training_input(X, y, sample_weight)
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        Xs = ((X - self.mean_) / self.scale_).astype(np.float32)
        w = balanced_weights(y, sample_weight).astype(np.float32)
        self.members_, self.history_ = [], []
        with torch_threads(self.n_threads):
            for member_seed in model_seeds(self.seed, self.n_models):
                states, history = self._fit_one(Xs, y.astype(np.float32), w, member_seed)
                self.members_.append(states)
                self.history_.append(history)
        return self

    def _fit_one(
        self, X: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int
    ) -> tuple[list[Any], dict[str, list[float]]]:
        import torch
        from torch.nn.functional import binary_cross_entropy_with_logits as bce

        device = self._device()
        rng = np.random.default_rng(seed)
        train, valid = stratified_split(y.astype(np.int64), self.validation_fraction, rng)
        to = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)  # noqa: E731
        Xt, yt, wt = to(X[train]), to(y[train]), to(w[train])
        Xv, yv, wv = to(X[valid]), to(y[valid]), to(w[valid])
        fork_devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=fork_devices):
            # a private RNG state: initialisation and dropout depend on the seed only
            torch.manual_seed(seed % 2**63)
            net = self._network(X.shape[1]).to(device)
            opt = torch.optim.Adam(
                net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
            )
            best: list[tuple[float, int, Any]] = []  # (validation loss, epoch, network)
            history: dict[str, list[float]] = {"train_loss": [], "val_loss": []}
            epochs = range(self.max_epochs)
            if self.progress:
                from tqdm.auto import tqdm

                epochs = tqdm(epochs, desc="MLP", unit="epoch", leave=False)
            n = len(Xt)
            for epoch in epochs:
                net.train()
                order = torch.from_numpy(rng.permutation(n)).to(device)
                total = 0.0
                for start in range(0, n, self.batch_size):
                    idx = order[start : start + self.batch_size]
                    logits = net(Xt[idx]).squeeze(1)
                    loss = (bce(logits, yt[idx], reduction="none") * wt[idx]).sum() / wt[idx].sum()
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(idx)
                net.eval()
                with torch.no_grad():
                    vl = bce(net(Xv).squeeze(1), yv, reduction="none")
                    val_loss = float((vl * wv).sum() / wv.sum())
                history["train_loss"].append(total / n)
                history["val_loss"].append(val_loss)
                best.append((val_loss, epoch, copy.deepcopy(net).cpu()))
                best.sort(key=lambda item: (item[0], item[1]))
                del best[self.n_best_epochs :]
                if epoch - min(best, key=lambda item: item[0])[1] >= self.patience:
                    break
        return [b[2] for b in best], history

    def predict(self, X: np.ndarray) -> np.ndarray:
        if not self.members_ or self.mean_ is None or self.scale_ is None:
            raise RuntimeError("TorchMLP.predict called before fit")
        import torch

        Xs = ((np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_).astype(np.float32)
        out = np.zeros(len(Xs))
        n_nets = 0
        with torch_threads(self.n_threads), torch.no_grad():
            for states in self.members_:
                for net in states:
                    net.eval()
                    for start in range(0, len(Xs), 65536):
                        chunk = torch.from_numpy(Xs[start : start + 65536])
                        out[start : start + 65536] += (
                            torch.sigmoid(net(chunk).squeeze(1)).double().numpy()
                        )
                    n_nets += 1
        return out / n_nets
