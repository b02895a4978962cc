"""LSGAN (Mao et al. 2017): the DCGAN networks with least-squares losses (targets 1 for real, 0 for fake)."""

from __future__ import annotations

import torch

from gan_cli.models import losses as L
from gan_cli.models.dcgan import DCGAN
from gan_cli.registry import Losses, register


@register
class LSGAN(DCGAN):
    name = "lsgan"
    summary = "Least-squares GAN: DCGAN networks, MSE loss (Mao et al. 2017)"

    def d_loss(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> Losses:
        return {
            "loss": L.least_squares_d(d_real, d_fake),
            "D(x)": d_real.mean().detach(),
            "D(G(z))": d_fake.mean().detach(),
        }

    def g_loss(self, d_fake: torch.Tensor) -> Losses:
        return {"loss": L.least_squares_g(d_fake)}
