"""Normalizing-flow density estimators for the QUAK axes.

QUAK (Park et al., arXiv:2011.03550, Sec. 2) measures every event with the loss of one
density model per hypothesis: here the loss is -log p(x), the negative log-density of a
normalizing flow (Papamakarios et al., arXiv:1912.02762). The background flow is
conditional on mjj, as CATHODE's (Hallin et al., arXiv:2109.00546, Sec. 3), so that a
flow trained on the sidebands interpolates into the signal region; a signal-prior flow
is unconditional (see :mod:`casehunt_quak.method` for why).

Losses of different flows are compared event by event (L_b - L_s is a log-likelihood
ratio), so every flow returns densities in the same space: the raw feature space. Each
flow standardises its inputs with its own affine map and adds the map's log-Jacobian
back, which is exact; a bounded (logit) preprocessing as in CATHODE would be undefined
for events outside the training range, and a prior's range is narrow. Columns marked
`log_columns` (non-negative, heavy-tailed: the jet masses) are modelled as log(1 + x)
before the standardisation, their Jacobian -log(1 + x) added back as well: a QCD jet
mass spans three orders of magnitude (a spike near a few GeV, a tail to a TeV) and a
resonance's jet-mass peak has a width proportional to its mass, both simple in log mass.

Everything random (initial weights, batch order, validation split) comes from one seed:
on the CPU the same seed gives the same losses. The global torch random state is left as
it was found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from casehunt.training import progress_bar, state_copy

#: standardised inputs are clipped to this many standard deviations before the flow: an
#: event that far from everything a flow was trained on is "infinitely" unlike it, and
#: the clip keeps float32 arithmetic finite
Z_CLIP = 50.0
#: the floor of a log-density (a loss ceiling) for the rare event a flow maps to a
#: non-finite value; it ranks such events as the least likely of all
LOG_PROB_FLOOR = -1.0e4
#: events per pass when a flow is evaluated without gradients: peak memory grows with
#: it (a 14-feature spline flow's log-density over 65536 events: 0.84 GB; over 8192:
#: 0.36 GB, and faster)
CHUNK = 8192


@dataclass(frozen=True)
class FlowConfig:
    """What a flow is and how it trains (the method's ``*_flow`` options)."""

    kind: str = "nsf"
    transforms: int = 4
    bins: int = 8
    hidden: tuple[int, ...] = (64, 64)
    epochs: int = 40
    batch_size: int = 512
    learning_rate: float = 1e-3
    patience: int = 5
    validation_fraction: float = 0.2
    max_events: int | None = None


@dataclass
class DensityFlow:
    """A (conditional) MAF or NSF on standardised features, keeping its best epoch.

    `conditional` flows take one scalar condition per event (the standardised log mjj).
    """

    config: FlowConfig
    conditional: bool
    seed: int = 0
    device: str = "cpu"
    progress: bool = False
    label: str = "flow"
    #: per feature: model log(1 + x) instead of x (for x >= 0; the rare slightly negative
    #: value, e.g. a soft-drop mass of -0.0004 GeV from rounding, is clipped to 0)
    log_columns: tuple[bool, ...] = ()
    mean_: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    scale_: np.ndarray = field(default_factory=lambda: np.ones(0), repr=False)
    state_: dict[str, Any] | None = field(default=None, repr=False)
    best_epoch_: int = -1
    history_: dict[str, list[float]] = field(default_factory=dict, repr=False)
    n_features_: int = 0
    _flow: Any = field(default=None, init=False, repr=False)

    def _build(self, n_features: int) -> Any:
        import zuko

        context = 1 if self.conditional else 0
        hidden = tuple(int(h) for h in self.config.hidden)
        if self.config.kind == "nsf":
            # autoregressive rational-quadratic splines (Durkan et al., arXiv:1906.04032)
            return zuko.flows.NSF(
                n_features,
                context,
                bins=self.config.bins,
                transforms=self.config.transforms,
                hidden_features=hidden,
            )
        # affine autoregressive (MAF, Papamakarios et al., arXiv:1705.07057)
        return zuko.flows.MAF(
            n_features, context, transforms=self.config.transforms, hidden_features=hidden
        )

    def _log_mask(self, n_features: int) -> np.ndarray:
        mask = np.zeros(n_features, dtype=bool)
        mask[: len(self.log_columns)] = self.log_columns
        return mask

    def _prepare(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log(1 + x) for the log columns, and the per-event log-Jacobian of that map."""
        x = np.array(x, dtype=np.float64)
        mask = self._log_mask(x.shape[1])
        if not mask.any():
            return x, np.zeros(len(x))
        u = np.log1p(np.clip(x[:, mask], 0.0, None))
        x[:, mask] = u
        return x, -u.sum(axis=1)  # du/dx = 1 / (1 + x)

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        return np.clip((np.asarray(x, np.float64) - self.mean_) / self.scale_, -Z_CLIP, Z_CLIP)

    def fit(self, x: np.ndarray, c: np.ndarray | None = None) -> DensityFlow:
        """Maximum likelihood on `x` (N, F) (given `c` (N,)), early-stopped on a held-out part."""
        import torch

        cfg = self.config
        x = np.asarray(x, dtype=np.float64)
        if self.conditional == (c is None):
            raise ValueError(f"{self.label}: a conditional flow needs `c`, an unconditional none")
        rng = np.random.default_rng(self.seed)
        n = len(x)
        if n < 4:
            raise ValueError(f"{self.label}: {n} training events; a density needs more")
        if np.any(x[:, self._log_mask(x.shape[1])] <= -1):
            raise ValueError(
                f"{self.label}: a column modelled as log(1 + x) (option 'log_columns') has "
                "values <= -1; list only non-negative columns there"
            )
        x, _ = self._prepare(x)
        if cfg.max_events is not None and n > cfg.max_events:
            keep = np.sort(rng.choice(n, cfg.max_events, replace=False))
            x, n = x[keep], cfg.max_events
            c = None if c is None else np.asarray(c)[keep]
        self.mean_ = x.mean(axis=0)
        std = x.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        self.n_features_ = x.shape[1]
        z = self._standardise(x)

        order = rng.permutation(n)
        n_valid = min(max(1, round(cfg.validation_fraction * n)), n - 1)
        valid, train = order[:n_valid], order[n_valid:]
        device = torch.device(self.device)
        as_tensor = lambda a: torch.as_tensor(np.asarray(a, np.float32), device=device)  # noqa: E731
        z_t, z_v = as_tensor(z[train]), as_tensor(z[valid])
        c_t = c_v = None
        if c is not None:
            c = np.asarray(c, dtype=np.float64)
            c_t, c_v = as_tensor(c[train]).reshape(-1, 1), as_tensor(c[valid]).reshape(-1, 1)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            flow = self._build(self.n_features_).to(device)
        generator = torch.Generator().manual_seed(self.seed)
        optimizer = torch.optim.AdamW(flow.parameters(), lr=cfg.learning_rate, weight_decay=0.0)
        best_loss, since_best = np.inf, 0
        self.history_ = {"train_loss": [], "valid_loss": []}
        bar = progress_bar(cfg.epochs, f"quak {self.label}", self.progress)
        for epoch in range(cfg.epochs):
            flow.train()
            perm = torch.randperm(len(z_t), generator=generator).to(device)
            total = 0.0
            for lo in range(0, len(perm), cfg.batch_size):
                idx = perm[lo : lo + cfg.batch_size]
                dist = flow(c_t[idx]) if c_t is not None else flow()
                loss = -dist.log_prob(z_t[idx]).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(idx)
            valid_loss = float(-_log_prob(flow, z_v, c_v).mean())
            self.history_["train_loss"].append(total / len(perm))
            self.history_["valid_loss"].append(valid_loss)
            if np.isfinite(valid_loss) and valid_loss < best_loss:
                best_loss, since_best = valid_loss, 0
                self.state_ = state_copy(flow)
                self.best_epoch_ = epoch
            else:
                since_best += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(train=f"{total / len(perm):.4f}", valid=f"{valid_loss:.4f}")
            if since_best >= cfg.patience:
                break
        if bar is not None:
            bar.close()
        if self.state_ is None:
            raise RuntimeError(
                f"{self.label}: the validation loss was never finite; lower the learning rate"
            )
        self._flow = flow
        return self

    def log_prob(self, x: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
        """log p(x) (given c) in the raw feature space, one per event, floored if not finite."""
        import torch

        if self.state_ is None:
            raise RuntimeError(f"{self.label}: log_prob called before fit")
        device = torch.device(self.device)
        flow = self._flow
        flow.load_state_dict(self.state_)
        x, log_jacobian = self._prepare(x)
        z = torch.as_tensor(self._standardise(x).astype(np.float32), device=device)
        ct = None
        if self.conditional:
            if c is None:
                raise ValueError(f"{self.label}: a conditional flow needs `c`")
            ct = torch.as_tensor(np.asarray(c, np.float32), device=device).reshape(-1, 1)
        lp = _log_prob(flow, z, ct).double().cpu().numpy()
        # the affine standardisation's Jacobian: p_x(x) = p_z(z) / prod(scale), and the
        # log columns': p_x(x) = p_u(u) / prod(1 + x)
        lp = lp - float(np.log(self.scale_).sum()) + log_jacobian
        return np.where(np.isfinite(lp), lp, LOG_PROB_FLOOR)


def _log_prob(flow: Any, z: Any, c: Any, chunk: int = CHUNK) -> Any:
    import torch

    flow.eval()
    parts = []
    with torch.no_grad():
        for lo in range(0, len(z), chunk):
            dist = flow(c[lo : lo + chunk]) if c is not None else flow()
            parts.append(dist.log_prob(z[lo : lo + chunk]))
    return torch.cat(parts) if parts else torch.zeros(0)
