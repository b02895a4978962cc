"""WGAN-GP (Gulrajani et al. 2017): WGAN with a gradient penalty on real/fake interpolates instead of clipping.

The critic uses layer normalisation instead of batch norm (the penalty is per sample); Adam (0, 0.9).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gan_cli.models import losses as L
from gan_cli.models.dcgan import ConvOptions
from gan_cli.models.wgan import WGAN
from gan_cli.registry import option, register


@dataclass
class WGANGPOptions(ConvOptions):
    n_critic: int = option(5, "critic steps per generator step", min=1, max=100)
    gp_lambda: float = option(10.0, "weight of the gradient penalty", min=0)
    beta1: float = option(0.0, "Adam beta1", min=0, max=1)
    beta2: float = option(0.9, "Adam beta2", min=0, max=1)


@register
class WGANGP(WGAN):
    name = "wgan-gp"
    summary = "WGAN with gradient penalty (Gulrajani et al. 2017)"
    Options = WGANGPOptions
    default_lr = 1e-4
    d_norm = "layer"

    def optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        betas = (self.opts.beta1, self.opts.beta2)
        return {k: torch.optim.Adam(self.nets[k].parameters(), lr=lr, betas=betas) for k in ("D", "G")}

    def after_d_step(self) -> None:  # no clipping
        pass

    def d_penalty(self, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return self.opts.gp_lambda * L.gradient_penalty(lambda x: self.D(x, y), real, fake, self.rng)
