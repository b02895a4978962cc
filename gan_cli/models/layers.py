"""Building blocks shared by the DCGAN-style families."""

from __future__ import annotations

import math

import torch
from torch import nn


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.: conv weights ~ N(0, 0.02); norm weights ~ N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def num_levels(size: int) -> int:
    """Number of 2x up/down-sampling stages between 4x4 and size x size."""
    levels = int(math.log2(size)) - 2
    if 4 * 2**levels != size or levels < 1:
        raise ValueError(f"image size must be a power of two >= 8, not {size}")
    return levels


def norm2d(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":  # per-sample normalisation: what WGAN-GP's critic needs (no batch coupling)
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r} (batch, layer, none)")


class DCGANGenerator(nn.Module):
    """z (N, in_dim) -> image (N, C, size, size) in [-1, 1].

    ConvTranspose stack; at 32 px: in_dim -> 256 (4x4) -> 128 (8x8) -> 64 (16x16) -> C (32x32), Tanh.
    At 64 px one more stage: in_dim -> 512 -> 256 -> 128 -> 64 -> C. BatchNorm + ReLU between.
    """

    def __init__(self, in_dim: int, channels: int, size: int, ngf: int = 64) -> None:
        super().__init__()
        levels = num_levels(size)
        widths = [ngf * 2 ** (levels - 1 - i) for i in range(levels)]  # e.g. [256, 128, 64]
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(in_dim, widths[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """image (N, C, size, size) -> one raw score per image (N,): a logit, or a WGAN critic value.

    At 32 px: C -> 64 (16x16) -> 128 (8x8) -> 256 (4x4) -> 1, LeakyReLU(0.2); no norm on the first
    layer (as in the paper), `norm` on the others. The sigmoid lives in the loss (BCE with logits).
    """

    def __init__(self, channels: int, size: int, ndf: int = 64, norm: str = "batch") -> None:
        super().__init__()
        levels = num_levels(size)
        widths = [ndf * 2**i for i in range(levels)]  # e.g. [64, 128, 256]
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(a, b, 4, 2, 1, bias=False), norm2d(norm, b), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1)
