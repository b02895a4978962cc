"""DCGAN (Radford, Metz, Chintala 2015): transposed-conv generator, strided-conv discriminator, BCE.

Losses: D minimises BCE(D(x), 1) + BCE(D(G(z)), 0); G minimises the non-saturating BCE(D(G(z)), 1).
Adam 2e-4, betas (0.5, 0.999); weights ~ N(0, 0.02). Subclasses (lsgan, wgan, wgan-gp, cgan) change
the loss, the optimizer or the conditioning by overriding one method each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gan_cli.models.layers import DCGANDiscriminator, DCGANGenerator, dcgan_init
from gan_cli.registry import Batch, Family, Losses, Phase, option, register


@dataclass
class ConvOptions:
    """What every DCGAN-style family shares; subclasses add their loss and optimizer options."""

    z_dim: int = option(100, "size of the latent vector z")
    ngf: int = option(64, "generator width (channels of its last hidden layer)")
    ndf: int = option(64, "discriminator/critic width (channels of its first layer)")


@dataclass
class DCGANOptions(ConvOptions):
    beta1: float = option(0.5, "Adam beta1")
    beta2: float = option(0.999, "Adam beta2")


@register
class DCGAN(Family):
    name = "dcgan"
    task = "noise"
    summary = "Deep convolutional GAN, BCE loss (Radford et al. 2015)"
    Options = DCGANOptions
    default_steps = 3000
    d_norm = "batch"  # discriminator normalisation (WGAN-GP's critic uses "layer")

    # --- networks -----------------------------------------------------------------------------
    def latent_dim(self) -> int:
        return self.opts.z_dim

    def build(self) -> dict[str, nn.Module]:
        G = DCGANGenerator(self.opts.z_dim, self.channels, self.size, self.opts.ngf)
        D = DCGANDiscriminator(self.channels, self.size, self.opts.ndf, norm=self.d_norm)
        dcgan_init(G)
        dcgan_init(D)
        self.nets = {"G": G, "D": D}
        return self.nets

    def optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        betas = (self.opts.beta1, self.opts.beta2)
        return {k: torch.optim.Adam(self.nets[k].parameters(), lr=lr, betas=betas) for k in ("D", "G")}

    def generate(self, G: nn.Module, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return G(z)

    # --- training -----------------------------------------------------------------------------
    n_critic = 1

    def phases(self) -> list[Phase]:
        return [
            Phase("D", self.d_step, repeat=self.n_critic, after_step=self.after_d_step),
            Phase("G", self.g_step, freeze=("D",), data=False),
        ]

    def after_d_step(self) -> None:
        """Hook after each optimizer step of D (WGAN clips weights here)."""

    def labels_for(self, batch: Batch) -> torch.Tensor | None:
        return None

    def fake(self, n: int, device: torch.device, y: torch.Tensor | None) -> torch.Tensor:
        z = torch.randn(n, self.latent_dim(), device=device, generator=self.rng)
        return self.generate(self.nets["G"], z, y)

    def D(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return self.nets["D"](x)

    def d_step(self, batch: Batch, cache: dict[str, Any]) -> Losses:
        real = batch["x"]
        y = self.labels_for(batch)
        # The fake batch keeps its graph so the G phase can reuse it (one G forward per step, as in
        # the reference loop); D's loss sees it detached.
        fake = self.fake(real.shape[0], real.device, y)
        cache["fake"], cache["y"] = fake, y
        d_real, d_fake = self.D(real, y), self.D(fake.detach(), y)
        losses = self.d_loss(d_real, d_fake)
        extra = self.d_penalty(real, fake.detach(), y)
        if extra is not None:
            losses["gp"] = extra
            losses["loss"] = losses["loss"] + extra
        return losses

    def g_step(self, batch: Batch, cache: dict[str, Any]) -> Losses:
        fake, y = cache.pop("fake", None), cache.pop("y", None)
        if fake is None:
            y = self.labels_for(batch)
            fake = self.fake(batch["x"].shape[0], batch["x"].device, y)
        return self.g_loss(self.D(fake, y))

    def d_penalty(self, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor | None:
        return None

    def d_loss(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> Losses:
        loss_real = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
        loss_fake = F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        return {
            "loss": loss_real + loss_fake,
            "D(x)": torch.sigmoid(d_real).mean().detach(),
            "D(G(z))": torch.sigmoid(d_fake).mean().detach(),
        }

    def g_loss(self, d_fake: torch.Tensor) -> Losses:
        return {"loss": F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))}
