"""The original GAN (Goodfellow et al. 2014): multilayer perceptrons for G and D, binary cross-entropy.

G: z (100) -> 256 -> 512 -> 1024 -> C x size x size, LeakyReLU(0.2) between layers, Tanh out.
D: C x size x size -> 512 -> 256 -> 1 logit, LeakyReLU(0.2) and dropout (the paper used dropout in D).
Native at 28 px (MNIST as is); other sizes flatten the same way. Adam 2e-4, betas (0.5, 0.999).

This file is also the worked example of gan_cli/models/template.md: everything a family declares.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gan_cli.models import losses as L
from gan_cli.registry import Batch, Context, Family, Losses, Phase, option, register


@dataclass
class GANOptions:
    z_dim: int = option(100, "size of the latent vector z", min=1, max=4096)
    g_width: int = option(256, "width of G's first hidden layer (then 2x, 4x)", min=1, max=8192)
    d_width: int = option(512, "width of D's first hidden layer (then 1/2)", min=2, max=8192)
    dropout: float = option(0.3, "dropout rate in D", min=0, max=0.9)
    beta1: float = option(0.5, "Adam beta1", min=0, max=1)


def mlp(sizes: list[int], out: nn.Module | None, dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(0.2))
            if dropout:
                layers.append(nn.Dropout(dropout))
    if out is not None:
        layers.append(out)
    return nn.Sequential(*layers)


@register
class GAN(Family):
    name = "gan"
    task = "noise"
    summary = "The original GAN: MLP generator and discriminator, BCE (Goodfellow et al. 2014)"
    Options = GANOptions
    tiny = {"z_dim": 8, "g_width": 8, "d_width": 8}
    default_size = 28
    default_steps = 3000
    sizes = (28, 32, 64)

    def build(self) -> dict[str, nn.Module]:
        o, pixels = self.opts, self.channels * self.size * self.size
        self.nets = {
            "G": mlp([o.z_dim, o.g_width, 2 * o.g_width, 4 * o.g_width, pixels], nn.Tanh()),
            "D": mlp([pixels, o.d_width, o.d_width // 2, 1], None, o.dropout),
        }
        return self.nets

    def optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        return {
            k: torch.optim.Adam(n.parameters(), lr=lr, betas=(self.opts.beta1, 0.999)) for k, n in self.nets.items()
        }

    def phases(self) -> list[Phase]:
        return [Phase("D", self.d_loss), Phase("G", self.g_loss, freeze=("D",), data=False)]

    def latent_dim(self) -> int:
        return self.opts.z_dim

    def generate(self, nets, z: torch.Tensor, y: torch.Tensor | None = None, **opts) -> torch.Tensor:
        return nets["G"](z).view(-1, self.channels, self.size, self.size)

    def d_loss(self, batch: Batch, ctx: Context) -> Losses:
        real = batch["x"]
        fake = self.generate(
            self.nets, torch.randn(real.shape[0], self.opts.z_dim, device=real.device, generator=self.rng)
        )
        ctx.cache["fake"] = fake  # G's phase reuses this batch: one G forward per step
        d_real, d_fake = self.nets["D"](real.flatten(1)), self.nets["D"](fake.detach().flatten(1))
        return {"loss": L.bce_d(d_real, d_fake), "D(x)": torch.sigmoid(d_real).mean().detach()}

    def g_loss(self, batch: Batch, ctx: Context) -> Losses:
        return {"loss": L.bce_g(self.nets["D"](ctx.cache.pop("fake").flatten(1)))}
