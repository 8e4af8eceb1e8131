"""A variational recurrent neural network over jet-constituent sequences, in torch.

Chung et al., "A recurrent latent variable model for sequential data" (arXiv:1506.02216,
Sec. 3), as used for jets by Kahn et al. (arXiv:2105.09274, Sec. 4): a VAE at every step
of a recurrent network. At step t, with the recurrent state h_{t-1} summarising the
constituents read so far,

- prior       p(z_t | h_{t-1})         = N(mu_0, s_0^2),  (mu_0, log s_0^2) = f_prior(h)
- encoder     q(z_t | x_t, h_{t-1})    = N(mu, s^2),      (mu, log s^2) = f_enc(phi_x(x_t), h)
- decoder     x_t ~ g(phi_z(z_t), h_{t-1})
- recurrence  h_t = GRU([phi_x(x_t), phi_z(z_t)], h_{t-1})

and the loss per jet is the mean over its constituents of the reconstruction error
|x_t - g|^2 plus `kl_weight` times KL(q || p). A constituent the model expects given the
jet so far is encoded close to the prior: a small KL. The jet's anomaly score is
1 - exp(-mean_t KL_t) (arXiv:2105.09274, Sec. 4), in [0, 1).

Determinism: initial weights, batch order and the reparametrisation noise all come from
the seed; scoring uses z = mu (no noise), so a trained model's score is a function of
the jet. Training runs with one torch thread by default (many small products, for which
one thread is fastest on a shared CPU).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from casehunt.training import progress_bar, state_copy


@dataclass(frozen=True)
class VRNNConfig:
    """Architecture and training of the VRNN."""

    hidden: int = 32
    latent_dim: int = 2
    epochs: int = 20
    batch_size: int = 256
    learning_rate: float = 1e-3
    patience: int = 4
    kl_weight: float = 1.0


def build_vrnn(n_features: int, config: VRNNConfig) -> Any:
    """The torch module; built in a function so that importing this file does not import torch."""
    import torch
    from torch import nn

    h, z = config.hidden, config.latent_dim

    def mlp(n_in: int, n_out: int) -> nn.Module:
        return nn.Sequential(nn.Linear(n_in, h), nn.ReLU(), nn.Linear(h, n_out))

    class _VRNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.phi_x = nn.Sequential(nn.Linear(n_features, h), nn.ReLU())
            self.phi_z = nn.Sequential(nn.Linear(z, h), nn.ReLU())
            self.prior = mlp(h, 2 * z)
            self.encoder = mlp(2 * h, 2 * z)
            self.decoder = mlp(2 * h, n_features)
            self.cell = nn.GRUCell(2 * h, h)

        def forward(
            self, x: torch.Tensor, mask: torch.Tensor, noise: torch.Tensor | None
        ) -> tuple[torch.Tensor, torch.Tensor]:
            """Per-step reconstruction error and KL, (B, T) each (zero on padding)."""
            n, steps, _ = x.shape
            state = x.new_zeros(n, h)
            recon, kl = [], []
            for t in range(steps):
                fx = self.phi_x(x[:, t])
                p_mu, p_lv = self.prior(state).chunk(2, dim=-1)
                q_mu, q_lv = self.encoder(torch.cat([fx, state], -1)).chunk(2, dim=-1)
                zt = q_mu if noise is None else q_mu + torch.exp(0.5 * q_lv) * noise[:, t]
                fz = self.phi_z(zt)
                x_hat = self.decoder(torch.cat([fz, state], -1))
                recon.append(((x[:, t] - x_hat) ** 2).sum(-1))
                # KL(N(q_mu, e^q_lv) || N(p_mu, e^p_lv)), summed over latent dimensions
                kl.append(
                    0.5
                    * (
                        p_lv - q_lv + (torch.exp(q_lv) + (q_mu - p_mu) ** 2) / torch.exp(p_lv) - 1
                    ).sum(-1)
                )
                new = self.cell(torch.cat([fx, fz], -1), state)
                state = torch.where(mask[:, t, None], new, state)
            m = mask.to(x.dtype)
            return torch.stack(recon, 1) * m, torch.stack(kl, 1) * m

    return _VRNN()


class JetVRNN:
    """A VRNN trained on standardised constituent sequences; scores jets by their KL."""

    def __init__(
        self, config: VRNNConfig, seed: int, device: str = "cpu", progress: bool = False
    ) -> None:
        self.config = config
        self.seed = int(seed)
        self.device = device
        self.progress = progress
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.state_: dict[str, Any] | None = None
        self.best_epoch_: int | None = None
        self.history_: dict[str, list[float]] = {"train_loss": [], "valid_loss": []}
        self._module: Any = None

    # data ---------------------------------------------------------------------------
    def _standardise(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        assert self.mean_ is not None and self.scale_ is not None
        z = (x - self.mean_) / self.scale_
        z[~mask] = 0.0
        return z.astype(np.float32)

    def fit(
        self, x: np.ndarray, mask: np.ndarray, x_valid: np.ndarray, mask_valid: np.ndarray
    ) -> JetVRNN:
        """Train on (J, T, F) sequences with (J, T) masks; early stopping on the second set."""
        import torch

        cfg = self.config
        real = x[mask]
        if len(real) == 0:
            raise ValueError("vrnn: the training jets have no constituents")
        self.mean_ = real.mean(axis=0)
        std = real.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        device = torch.device(self.device)
        x_t = torch.as_tensor(self._standardise(x, mask), device=device)
        m_t = torch.as_tensor(mask, device=device)
        x_v = torch.as_tensor(self._standardise(x_valid, mask_valid), device=device)
        m_v = torch.as_tensor(mask_valid, device=device)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            module = build_vrnn(x.shape[-1], cfg).to(device)
        generator = torch.Generator().manual_seed(self.seed)
        optimizer = torch.optim.Adam(module.parameters(), lr=cfg.learning_rate)
        best, since_best = np.inf, 0
        bar = progress_bar(cfg.epochs, "vrnn", self.progress)
        for epoch in range(cfg.epochs):
            module.train()
            perm = torch.randperm(len(x_t), generator=generator)
            total = 0.0
            for lo in range(0, len(perm), cfg.batch_size):
                idx = perm[lo : lo + cfg.batch_size].to(device)
                xb, mb = x_t[idx], m_t[idx]
                noise = torch.randn(
                    (len(idx), xb.shape[1], cfg.latent_dim), generator=generator
                ).to(device)
                loss = self._loss(module, xb, mb, noise).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(idx)
            valid = float(self._per_jet(module, x_v, m_v, "loss").mean())
            self.history_["train_loss"].append(total / len(perm))
            self.history_["valid_loss"].append(valid)
            if np.isfinite(valid) and valid < best:
                best, since_best = valid, 0
                self.state_ = state_copy(module)
                self.best_epoch_ = epoch
            else:
                since_best += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(train=f"{total / len(perm):.4f}", valid=f"{valid:.4f}")
            if since_best >= cfg.patience:
                break
        if bar is not None:
            bar.close()
        if self.state_ is None:
            raise RuntimeError("vrnn: the validation loss was never finite; lower learning_rate")
        module.load_state_dict(self.state_)
        self._module = module
        return self

    def _loss(self, module: Any, x: Any, mask: Any, noise: Any) -> Any:
        recon, kl = module(x, mask, noise)
        n = mask.sum(1).clamp(min=1)
        return (recon + self.config.kl_weight * kl).sum(1) / n

    def _per_jet(self, module: Any, x: Any, mask: Any, what: str, chunk: int = 8192) -> Any:
        """Per-jet validation loss or mean KL, without noise, in chunks."""
        import torch

        module.eval()
        out = []
        with torch.no_grad():
            for lo in range(0, len(x), chunk):
                xb, mb = x[lo : lo + chunk], mask[lo : lo + chunk]
                if what == "loss":
                    out.append(self._loss(module, xb, mb, None))
                else:
                    _, kl = module(xb, mb, None)
                    out.append(kl.sum(1) / mb.sum(1).clamp(min=1))
        return torch.cat(out) if out else torch.zeros(0)

    def mean_kl(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(J,) mean KL over each jet's constituents (0 for a jet without constituents)."""
        import torch

        if self._module is None:
            raise RuntimeError("vrnn: mean_kl called before fit")
        device = torch.device(self.device)
        xt = torch.as_tensor(self._standardise(x, mask), device=device)
        mt = torch.as_tensor(mask, device=device)
        return self._per_jet(self._module, xt, mt, "kl").double().cpu().numpy()

    def anomaly_score(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(J,) 1 - exp(-mean KL), the anomaly score of arXiv:2105.09274 (Sec. 4)."""
        return -np.expm1(-self.mean_kl(x, mask))

    def __getstate__(self) -> dict[str, Any]:
        # the module is rebuilt from the weights on unpickling (campaign task results)
        state = copy.copy(self.__dict__)
        state["_module"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self.state_ is not None and self.mean_ is not None:
            module = build_vrnn(len(self.mean_), self.config)
            module.load_state_dict(self.state_)
            self._module = module.to(self.device)
