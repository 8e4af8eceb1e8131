"""The conditional density estimator of CATHODE: a masked autoregressive flow.

Hallin et al. (arXiv:2109.00546, Sec. 3) train a conditional MAF (Papamakarios et al.,
arXiv:1705.07057) on the sidebands to learn p(x | mjj), interpolate it into the signal
region and sample there. The training is noisy from epoch to epoch, so the model is not
one epoch's weights but the ensemble of the epochs with the lowest validation loss (10
in the paper), each of which generates an equal share of the samples.

Everything random here (initial weights, batch order, base samples) comes from one seed:
on the CPU the same seed gives the same samples. The global torch random state is left as
it was found.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from casehunt.training import progress_bar, state_copy

#: events per pass when the flow is evaluated or sampled without gradients. The memory
#: of the spline flow's inverse grows with the pass: sampling 80k events with 14 features
#: peaks at 637 / 899 / 1322 / 1766 MiB in passes of 1024 / 2048 / 4096 / 8192, in
#: 32 / 28 / 33 / 34 s, and the process keeps that memory after (one pass of 65536:
#: 6.2 GB; ``benchmarks/flow_passes.py``, the 2-core machine)
CHUNK = 2048


@dataclass
class FlowConfig:
    """What the flow is and how it trains (the method's ``flow_*`` options)."""

    kind: str = "maf"
    transforms: int = 4
    bins: int = 8
    hidden: tuple[int, ...] = (64, 64)
    epochs: int = 20
    batch_size: int = 512
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    validation_fraction: float = 0.2
    n_best_epochs: int = 5
    max_events: int | None = None


@dataclass
class ConditionalFlow:
    """A conditional MAF on preprocessed features, with its best epochs kept for sampling."""

    config: FlowConfig
    seed: int = 0
    device: str = "cpu"
    progress: bool = False
    #: (validation loss, epoch, state dict) of the best epochs, best first
    best_: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list, repr=False)
    history_: dict[str, list[float]] = field(default_factory=dict, repr=False)
    n_features_: int = 0
    #: the rows of the training input held out for validation (never trained on)
    valid_index_: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64), repr=False)

    def _build(self, n_features: int) -> Any:
        import zuko

        hidden = tuple(int(h) for h in self.config.hidden)
        if self.config.kind == "nsf":
            # autoregressive rational-quadratic splines (Durkan et al., arXiv:1906.04032):
            # the MAF with a more flexible element-wise transform
            return zuko.flows.NSF(
                n_features,
                1,
                bins=self.config.bins,
                transforms=self.config.transforms,
                hidden_features=hidden,
            )
        return zuko.flows.MAF(
            n_features, 1, transforms=self.config.transforms, hidden_features=hidden
        )

    def fit(self, z: np.ndarray, c: np.ndarray) -> ConditionalFlow:
        """Train on features `z` (N, F) given the condition `c` (N,), both preprocessed."""
        import torch

        cfg = self.config
        rng = np.random.default_rng(self.seed)
        n = len(z)
        keep = np.arange(n)
        if cfg.max_events is not None and n > cfg.max_events:
            keep = np.sort(rng.choice(n, cfg.max_events, replace=False))
            z, c, n = z[keep], c[keep], cfg.max_events
        order = rng.permutation(n)
        n_valid = min(max(1, round(cfg.validation_fraction * n)), n - 1)
        valid, train = order[:n_valid], order[n_valid:]
        self.valid_index_ = np.sort(keep[valid])
        device = torch.device(self.device)
        as_tensor = lambda a: torch.as_tensor(np.asarray(a, np.float32), device=device)  # noqa: E731
        z_t, c_t = as_tensor(z[train]), as_tensor(c[train]).reshape(-1, 1)
        z_v, c_v = as_tensor(z[valid]), as_tensor(c[valid]).reshape(-1, 1)
        self.n_features_ = z.shape[1]

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            flow = self._build(self.n_features_).to(device)
        generator = torch.Generator().manual_seed(self.seed)
        optimizer = torch.optim.AdamW(
            flow.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay
        )
        best: list[tuple[float, int, dict[str, Any]]] = []  # a heap of (-loss, epoch, state)
        self.history_ = {"train_loss": [], "valid_loss": []}
        bar = progress_bar(cfg.epochs, "cathode flow", self.progress)
        for epoch in range(cfg.epochs):
            flow.train()
            perm = torch.randperm(len(z_t), generator=generator).to(device)
            total = 0.0
            for lo in range(0, len(perm), cfg.batch_size):
                idx = perm[lo : lo + cfg.batch_size]
                loss = -flow(c_t[idx]).log_prob(z_t[idx]).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(idx)
            valid_loss = self._loss(flow, z_v, c_v)
            self.history_["train_loss"].append(total / len(perm))
            self.history_["valid_loss"].append(valid_loss)
            if np.isfinite(valid_loss):
                entry = (-valid_loss, epoch, state_copy(flow))
                if len(best) < cfg.n_best_epochs:
                    heapq.heappush(best, entry)
                elif entry[0] > best[0][0]:
                    heapq.heapreplace(best, entry)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(train=f"{total / len(perm):.4f}", valid=f"{valid_loss:.4f}")
        if bar is not None:
            bar.close()
        if not best:
            raise RuntimeError(
                "the flow's validation loss was never finite; lower flow_learning_rate"
            )
        self.best_ = [(-nl, ep, st) for nl, ep, st in sorted(best, reverse=True)]
        return self

    @staticmethod
    def _loss(flow: Any, z: Any, c: Any) -> float:
        import torch

        flow.eval()
        total = 0.0
        with torch.no_grad():
            for lo in range(0, len(z), CHUNK):
                total += float(-flow(c[lo : lo + CHUNK]).log_prob(z[lo : lo + CHUNK]).sum())
        return total / len(z)

    def sample(self, c: np.ndarray, seed: int) -> np.ndarray:
        """One sample of the features per condition value; the best epochs share them."""
        import torch

        if not self.best_:
            raise RuntimeError("ConditionalFlow.sample called before fit")
        device = torch.device(self.device)
        generator = torch.Generator().manual_seed(int(seed))
        # the base noise is drawn here, on the CPU, so the samples do not depend on the
        # device's random stream; the flow maps it to feature space
        base = torch.randn(len(c), self.n_features_, generator=generator)
        parts = np.array_split(np.arange(len(c)), len(self.best_))
        with torch.random.fork_rng(devices=[]):
            flow = self._build(self.n_features_).to(device)
        flow.eval()
        out = np.empty((len(c), self.n_features_), dtype=np.float64)
        with torch.no_grad():
            for (_, _, state), idx in zip(self.best_, parts, strict=True):
                flow.load_state_dict(state)
                for lo in range(0, len(idx), CHUNK):
                    rows = idx[lo : lo + CHUNK]
                    cond = torch.as_tensor(c[rows], dtype=torch.float32, device=device)
                    dist = flow(cond.reshape(-1, 1))
                    x = dist.transform.inv(base[rows].to(device))
                    out[rows] = x.double().cpu().numpy()
        return out
