"""A moving average of a network's weights, as NVlabs' StyleGAN2-ADA keeps G_ema.

After each step, every parameter of the average moves towards the trained net's:
    ema = p + beta * (ema - p),  beta = 0.5 ** (batch / half_life_images)
with the half-life capped at `rampup` x the images seen so far (so early averages do not remember the
random init), and buffers (BatchNorm statistics, StyleGAN2's noise and mean w) copied as they are.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from gan_cli.registry import EMA


def beta(spec: EMA, batch_size: int, seen: int) -> float:
    """The decay of one step of `batch_size` images when `seen` images were shown before it."""
    half_life = spec.half_life_kimg * 1000.0
    if spec.rampup is not None:
        half_life = min(half_life, seen * spec.rampup)
    return 0.5 ** (batch_size / max(half_life, 1e-8))


def create(net: nn.Module) -> nn.Module:
    return copy.deepcopy(net).eval().requires_grad_(False)


@torch.no_grad()
def update(ema: nn.Module, net: nn.Module, b: float) -> None:
    for p_ema, p in zip(ema.parameters(), net.parameters()):
        p_ema.copy_(p.detach().lerp(p_ema, b))
    for b_ema, buf in zip(ema.buffers(), net.buffers()):
        b_ema.copy_(buf)
