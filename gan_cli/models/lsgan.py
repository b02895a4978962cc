"""LSGAN (Mao et al. 2017): the DCGAN networks with least-squares losses (targets 1 for real, 0 for fake)."""

from __future__ import annotations

import torch

from gan_cli.models.dcgan import DCGAN
from gan_cli.registry import Losses, register


@register
class LSGAN(DCGAN):
    name = "lsgan"
    summary = "Least-squares GAN: DCGAN networks, MSE loss (Mao et al. 2017)"

    def d_loss(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> Losses:
        loss = 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * (d_fake**2).mean()
        return {"loss": loss, "D(x)": d_real.mean().detach(), "D(G(z))": d_fake.mean().detach()}

    def g_loss(self, d_fake: torch.Tensor) -> Losses:
        return {"loss": 0.5 * ((d_fake - 1) ** 2).mean()}
