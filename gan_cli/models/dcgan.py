"""DCGAN (Radford, Metz, Chintala 2015): transposed-conv generator, strided-conv discriminator, BCE.

Losses: D minimises BCE(D(x), 1) + BCE(D(G(z)), 0); G minimises the non-saturating BCE(D(G(z)), 1).
Adam 2e-4, betas (0.5, 0.999); weights ~ N(0, 0.02). Subclasses (lsgan, wgan, wgan-gp, cgan) change
the loss, the optimizer or the conditioning by overriding one method each.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gan_cli.models import losses as L
from gan_cli.models.layers import DCGANDiscriminator, DCGANGenerator, dcgan_init
from gan_cli.registry import EMA, Batch, Context, Family, Losses, Phase, option, register


@dataclass
class ConvOptions:
    """What every DCGAN-style family shares; subclasses add their loss and optimizer options."""

    z_dim: int = option(100, "size of the latent vector z", min=1, max=4096)
    ngf: int = option(64, "generator width (channels of its last hidden layer)", min=1, max=1024)
    ndf: int = option(64, "discriminator/critic width (channels of its first layer)", min=1, max=1024)
    ema_kimg: float = option(0.0, "half-life in kimg of an EMA generator used for sampling (0: off)", min=0)


@dataclass
class DCGANOptions(ConvOptions):
    beta1: float = option(0.5, "Adam beta1", min=0, max=1)
    beta2: float = option(0.999, "Adam beta2", min=0, max=1)


@register
class DCGAN(Family):
    name = "dcgan"
    task = "noise"
    summary = "Deep convolutional GAN, BCE loss (Radford et al. 2015)"
    Options = DCGANOptions
    tiny = {"ngf": 4, "ndf": 4, "z_dim": 8}
    default_steps = 3000
    sizes = (32, 64, 128)
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

    def generate(self, nets, z: torch.Tensor, y: torch.Tensor | None = None, **opts) -> torch.Tensor:
        return nets["G"](z)

    def ema(self) -> EMA | None:
        return EMA("G", self.opts.ema_kimg) if self.opts.ema_kimg > 0 else None

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
        return self.generate(self.nets, z, y)

    def D(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return self.nets["D"](x)

    def d_step(self, batch: Batch, ctx: Context) -> Losses:
        real, cache = batch["x"], ctx.cache
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

    def g_step(self, batch: Batch, ctx: Context) -> Losses:
        fake, y = ctx.cache.pop("fake", None), ctx.cache.pop("y", None)
        if fake is None:
            y = self.labels_for(batch)
            fake = self.fake(batch["x"].shape[0], batch["x"].device, y)
        return self.g_loss(self.D(fake, y))

    def d_penalty(self, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor | None:
        return None

    def d_loss(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> Losses:
        return {
            "loss": L.bce_d(d_real, d_fake),
            "D(x)": torch.sigmoid(d_real).mean().detach(),
            "D(G(z))": torch.sigmoid(d_fake).mean().detach(),
        }

    def g_loss(self, d_fake: torch.Tensor) -> Losses:
        return {"loss": L.bce_g(d_fake)}
