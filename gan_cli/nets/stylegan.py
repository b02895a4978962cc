"""StyleGAN (v1, Karras et al. 2019) networks as NVlabs/stylegan `networks_stylegan.py` builds G_style
(G_mapping + G_synthesis) and D_basic with the "linear" growing structure, in plain PyTorch.

- Mapping: pixel-normalised z through `n_mlp` dense layers (lr multiplier 0.01, leaky ReLU 0.2) to w,
  broadcast to num_ws = 2 * log2(size) - 2 layers; `w_avg` (a buffer) is the truncation centre.
  `w_center` (a buffer, zeros unless `center_w()` sets it) is subtracted from the mapping's output: the mean w
  of the freshly initialised mapping network. The styles' dense layers then start on a zero-mean w. The set of
  functions is the paper's (a constant offset of w folds into the style biases); only training differs.
- Synthesis: a learned constant 4x4 (ones), then per resolution two layers (at 4x4: the constant and a 3x3
  conv; above it: nearest 2x upsampling + 3x3 conv + [1, 2, 1] blur, and a 3x3 conv). After each layer the
  "epilogue": per-pixel noise times a learned per-channel strength (zeros at init), bias, leaky ReLU,
  instance norm, then AdaIN's style: x * (1 + s) + b with (s, b) an equalized dense layer of that layer's w.
  Noise maps: the stored `noise_i` buffers (const), fresh N(0, 1) per sample (random) or none.
- D: PGGAN's (gan_cli/nets/pggan.py) with the [1, 2, 1] blur before each downsampling conv.
Both grow with `lod` as PGGAN's do. The official fused up/down-sampling convs (used at 128 px and up) are
the same sums as the separate upsample + conv and conv + pool used here at every size.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from gan_cli.nets.pggan import (
    DEpilogue,
    EqConv2d,
    EqLinear,
    grow_discriminator,
    grow_output,
    lrelu,
    nf,
    pixel_norm,
    stage_of_lod,
    upscale2d,
)

NoiseMode = Literal["const", "random", "none"]


def blur(x: torch.Tensor) -> torch.Tensor:
    """The official blur2d: the normalised [1, 2, 1] x [1, 2, 1] filter per channel, 'same' size."""
    k = torch.tensor([1.0, 2.0, 1.0], dtype=x.dtype, device=x.device)
    k = (k[:, None] * k[None, :]) / 16
    return F.conv2d(x, k.expand(x.shape[1], 1, 3, 3), padding=1, groups=x.shape[1])


def instance_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    x = x - x.mean([2, 3], keepdim=True)
    return x * torch.rsqrt(x.square().mean([2, 3], keepdim=True) + eps)


class Epilogue(nn.Module):
    """Noise (learned per-channel strength), bias, lrelu, instance norm, style modulation from w."""

    def __init__(self, channels: int, w_dim: int):
        super().__init__()
        self.noise_strength = nn.Parameter(torch.zeros(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.style = EqLinear(w_dim, channels * 2, gain=1.0)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        if noise is not None:
            x = x + noise * self.noise_strength.view(1, -1, 1, 1)
        x = instance_norm(lrelu(x + self.bias.view(1, -1, 1, 1)))
        scale, shift = self.style(w).view(w.shape[0], 2, -1, 1, 1).unbind(1)
        return x * (scale + 1) + shift


class SynthesisBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, w_dim: int, first: bool):
        super().__init__()
        self.first = first
        if first:
            self.const = nn.Parameter(torch.ones(1, c_out, 4, 4))
        else:
            self.conv0 = EqConv2d(c_in, c_out, 3, bias=False)
        self.epi0 = Epilogue(c_out, w_dim)
        self.conv1 = EqConv2d(c_out, c_out, 3, bias=False)
        self.epi1 = Epilogue(c_out, w_dim)

    def forward(self, x: torch.Tensor, ws: torch.Tensor, noise: list[torch.Tensor | None]) -> torch.Tensor:
        """ws: this block's two w [N, 2, w_dim]; noise: its two noise maps."""
        if self.first:  # channels-last from here on, as in gan_cli/nets/pggan.py
            x = self.const.expand(ws.shape[0], -1, -1, -1).contiguous(memory_format=torch.channels_last)
        else:
            x = blur(self.conv0(upscale2d(x)))
        x = self.epi0(x, ws[:, 0], noise[0])
        return self.epi1(self.conv1(x), ws[:, 1], noise[1])


def _zero_center_if_missing(module, state_dict, prefix, *args) -> None:
    """Checkpoints written before `w_center` existed load as uncentred (zeros)."""
    state_dict.setdefault(prefix + "w_center", torch.zeros_like(module.w_center))


class Generator(nn.Module):
    """mapping(z) -> w; synthesis(w+ [N, num_ws, w_dim]) -> image at the stage of the `lod` buffer."""

    def __init__(self, size: int, z_dim: int, w_dim: int, n_mlp: int, img_channels: int, fmap_base: int,
                 fmap_max: int, lr_mlp: float = 0.01):
        super().__init__()
        self.log2_size, self.z_dim, self.w_dim = int(math.log2(size)), z_dim, w_dim
        self.num_ws = 2 * self.log2_size - 2
        dims = [z_dim] + [w_dim] * n_mlp
        self.mapping_layers = nn.ModuleList(EqLinear(a, b, lr_mul=lr_mlp) for a, b in zip(dims[:-1], dims[1:]))
        ch = [nf(r - 1, fmap_base, fmap_max) for r in range(2, self.log2_size + 1)]
        self.blocks = nn.ModuleList([SynthesisBlock(ch[0], ch[0], w_dim, True)])
        self.blocks.extend(SynthesisBlock(a, b, w_dim, False) for a, b in zip(ch[:-1], ch[1:]))
        self.to_rgb = nn.ModuleList(EqConv2d(c, img_channels, 1, gain=1.0) for c in ch)
        for i in range(self.num_ws):
            res = 2 ** (i // 2 + 2)
            self.register_buffer(f"noise_{i}", torch.randn(1, 1, res, res))
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.register_buffer("w_center", torch.zeros(w_dim))
        self.register_buffer("lod", torch.zeros((), dtype=torch.float64))
        self.register_load_state_dict_pre_hook(_zero_center_if_missing)

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        x = pixel_norm(z)
        for layer in self.mapping_layers:
            x = lrelu(layer(x))
        return x - self.w_center.to(x.dtype)

    @torch.no_grad()
    def center_w(self, n: int = 8192, seed: int = 0) -> None:
        """Set `w_center` to the mean mapping output of n fixed draws of z (call once, before training)."""
        self.w_center.zero_()
        z = torch.randn(n, self.z_dim, generator=torch.Generator().manual_seed(seed)).to(self.w_center.device)
        self.w_center.copy_(self.mapping(z).float().mean(0))

    def active_ws(self) -> int:
        """How many of the num_ws layers the current stage uses (the official cur_layers)."""
        return self.num_ws - 2 * math.floor(float(self.lod))

    def make_noise(self, n: int, noise_mode: NoiseMode, generator: torch.Generator | None = None) -> list:
        if noise_mode == "const":
            return [getattr(self, f"noise_{i}") for i in range(self.num_ws)]
        if noise_mode == "none":
            return [None] * self.num_ws
        if noise_mode != "random":
            raise ValueError(f"noise_mode must be const, random or none, not {noise_mode!r}")
        dev = self.w_avg.device
        return [torch.randn(n, 1, 2 ** (i // 2 + 2), 2 ** (i // 2 + 2), generator=generator, device=dev)
                for i in range(self.num_ws)]

    def synthesis(self, ws: torch.Tensor, noise_mode: NoiseMode = "const",
                  generator: torch.Generator | None = None) -> torch.Tensor:
        if ws.ndim != 3 or ws.shape[1] != self.num_ws:
            raise ValueError(f"ws must be [N, {self.num_ws}, {self.w_dim}], not {list(ws.shape)}")
        r, alpha = stage_of_lod(float(self.lod), self.log2_size)
        noise = self.make_noise(ws.shape[0], noise_mode, generator)
        x = prev = ws
        for j, block in enumerate(self.blocks[: r - 1]):
            prev, x = x, block(x, ws[:, 2 * j : 2 * j + 2], noise[2 * j : 2 * j + 2])
        return grow_output(self.to_rgb, x, prev, r, alpha)


class DBlock(nn.Module):
    """One resolution of D above 4x4: conv, lrelu, blur, conv, 2x2 average pooling, lrelu."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv0 = EqConv2d(c_in, c_in, 3)
        self.conv1 = EqConv2d(c_in, c_out, 3, bias=False)
        self.bias1 = nn.Parameter(torch.zeros(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool2d(self.conv1(blur(lrelu(self.conv0(x)))), 2)
        return lrelu(x + self.bias1.view(1, -1, 1, 1))


class Discriminator(nn.Module):
    """image [N, C, res, res] at any stage resolution -> score [N, 1]; alpha fades its top resolution in."""

    def __init__(self, size: int, img_channels: int, fmap_base: int, fmap_max: int, mbstd_group: int = 4):
        super().__init__()
        ch = [nf(r - 1, fmap_base, fmap_max) for r in range(2, int(math.log2(size)) + 1)]
        self.from_rgb = nn.ModuleList(EqConv2d(img_channels, c, 1) for c in ch)
        self.blocks = nn.ModuleList(DBlock(ch[i], ch[i - 1]) for i in range(1, len(ch)))
        self.epilogue = DEpilogue(ch[0], nf(0, fmap_base, fmap_max), mbstd_group)

    def forward(self, img: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
        return grow_discriminator(self.blocks, self.from_rgb, self.epilogue, img, alpha)
