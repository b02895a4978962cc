"""WGAN (Arjovsky et al. 2017): a critic without sigmoid, weight clipping, RMSprop, 5 critic steps per G step."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gan_cli.models import losses as L
from gan_cli.models.dcgan import DCGAN, ConvOptions
from gan_cli.registry import Losses, option, register


@dataclass
class WGANOptions(ConvOptions):
    n_critic: int = option(5, "critic steps per generator step", min=1, max=100)
    clip: float = option(0.01, "critic weights are clipped to [-clip, clip] after each critic step", min=0)


@register
class WGAN(DCGAN):
    name = "wgan"
    summary = "Wasserstein GAN with weight clipping (Arjovsky et al. 2017)"
    Options = WGANOptions
    default_lr = 5e-5
    default_steps = 2000

    @property
    def n_critic(self) -> int:  # type: ignore[override]
        return self.opts.n_critic

    def optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        return {k: torch.optim.RMSprop(self.nets[k].parameters(), lr=lr) for k in ("D", "G")}

    @torch.no_grad()
    def after_d_step(self) -> None:
        for p in self.nets["D"].parameters():
            p.clamp_(-self.opts.clip, self.opts.clip)

    def d_loss(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> Losses:
        loss = L.wasserstein_d(d_real, d_fake)
        return {"loss": loss, "W": -loss.detach()}

    def g_loss(self, d_fake: torch.Tensor) -> Losses:
        return {"loss": L.wasserstein_g(d_fake)}
