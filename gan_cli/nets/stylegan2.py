"""StyleGAN2 config F (Karras et al. 2020): skip generator and residual discriminator, in plain PyTorch.

Modules and parameters carry rosinality/stylegan2-pytorch's names (`style.1.weight`,
`conv1.conv.modulation.weight`, `convs.0.noise.weight`, `to_rgbs.0.upsample.kernel`, `noises.noise_0`,
the discriminator's `convs.*`, `final_conv`, `final_linear`, ...), so its `g_ema` and `d` state dicts
load with `strict=True`; NVlabs pickles are renamed onto them by `gan_cli.convert.stylegan2`.
Weights are stored unscaled and multiplied by their equalized-learning-rate factor in forward.

The computation is the reference one, reorganised for speed on a CPU (see `stylegan2_ops`).
Two options exist only for converted NVlabs networks: `conv_clamp` (activations clamped to
+-conv_clamp after each conv, as NVlabs' `bias_act` does) and `img_channels`; `z_dim` may differ
from `style_dim` there too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from gan_cli.nets.stylegan2_ops import bias_leaky_relu, blur, make_kernel, modulated_conv2d, upsample2x

NoiseMode = Literal["const", "random", "none"]


def channel_table(channel_multiplier: int, channel_base: int | None, channel_max: int | None) -> dict[int, int]:
    """Channels per resolution 4..1024: rosinality's table, or NVlabs' min(channel_base // res, channel_max)."""
    if channel_base is None and channel_max is None:
        return {r: 512 if r <= 32 else 16384 * channel_multiplier // r for r in (2**i for i in range(2, 11))}
    base, cap = channel_base or 32768, channel_max or 512
    return {r: max(1, min(base // r, cap)) for r in (2**i for i in range(2, 11))}


def log2_size(size: int) -> int:
    log = int(math.log2(size))
    if 2**log != size or not 8 <= size <= 1024:
        raise ValueError(f"StyleGAN2 size must be a power of two in 8..1024, not {size}")
    return log


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    """Linear layer with equalized lr (weight * lr_mul / sqrt(in)); optional fused bias + lrelu."""

    def __init__(self, in_dim: int, out_dim: int, bias_init: float = 0.0, lr_mul: float = 1.0, act: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale, self.lr_mul, self.act = lr_mul / math.sqrt(in_dim), lr_mul, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.act:
            return bias_leaky_relu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class FusedLeakyReLU(nn.Module):
    def __init__(self, channels: int, bias: bool = True, clamp: float | None = None):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None
        self.clamp = clamp

    def forward(self, x: torch.Tensor, scale: torch.Tensor | None = None, shift: torch.Tensor | None = None):
        return bias_leaky_relu(x, self.bias, clamp=self.clamp, scale=scale, shift=shift)


class Blur(nn.Module):
    """FIR filter with upfirdn2d padding; `kernel` is a buffer (it is in the reference state dicts)."""

    def __init__(self, kernel: Sequence[int], pad: tuple[int, int], gain: float = 1.0):
        super().__init__()
        self.register_buffer("kernel", make_kernel(kernel, gain))
        self.pad = pad

    def forward(self, x: torch.Tensor, stride: int = 1) -> torch.Tensor:
        return blur(x, self.kernel, self.pad, stride)


class Upsample(nn.Module):
    def __init__(self, kernel: Sequence[int]):
        super().__init__()
        self.register_buffer("kernel", make_kernel(kernel, 4.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upsample2x(x, self.kernel)


class ModulatedConv2d(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int, style_dim: int, demodulate: bool = True,
                 upsample: bool = False, blur_kernel: Sequence[int] = (1, 3, 3, 1)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, c_out, c_in, k, k))
        self.modulation = EqualLinear(style_dim, c_in, bias_init=1)
        self.scale, self.padding = 1 / math.sqrt(c_in * k * k), k // 2
        self.demodulate, self.upsample = demodulate, upsample
        if upsample:  # transposed conv (2H + k - 2 px) then blur back to 2H
            p = len(blur_kernel) - 2 - (k - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + 1, p // 2 + 1), gain=4.0)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(y, dcoef): y * dcoef[:, :, None, None] is the layer's output (see modulated_conv2d)."""
        style = self.modulation(w)
        y, dcoef = modulated_conv2d(x, self.weight[0] * self.scale, style, self.demodulate, self.upsample, self.padding)
        return (self.blur(y) if self.upsample else y), dcoef


class NoiseInjection(nn.Module):
    """The learned noise strength; StyledConv adds weight * noise inside its activation pass."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))


class ConstantInput(nn.Module):
    def __init__(self, channels: int, size: int = 4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, n: int) -> torch.Tensor:
        # channels-last from here on: oneDNN's convolutions and depthwise filters are faster in it
        return self.input.expand(n, -1, -1, -1).contiguous(memory_format=torch.channels_last)


class StyledConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int, style_dim: int, upsample: bool = False,
                 blur_kernel: Sequence[int] = (1, 3, 3, 1), clamp: float | None = None):
        super().__init__()
        self.conv = ModulatedConv2d(c_in, c_out, k, style_dim, upsample=upsample, blur_kernel=blur_kernel)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(c_out, clamp=clamp)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        y, dcoef = self.conv(x, w)
        return self.activate(y, dcoef, None if noise is None else self.noise.weight * noise)


class ToRGB(nn.Module):
    def __init__(self, c_in: int, style_dim: int, img_channels: int = 3, upsample: bool = True,
                 blur_kernel: Sequence[int] = (1, 3, 3, 1), clamp: float | None = None):
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(c_in, img_channels, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, img_channels, 1, 1))
        self.clamp = clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        y, _ = self.conv(x, w)
        out = y + self.bias.to(y.dtype)
        if self.clamp is not None:
            out = out.clamp(-self.clamp, self.clamp)
        return out if skip is None else out + self.upsample(skip)


class Generator(nn.Module):
    """z (or w / w+) -> image [N, img_channels, size, size], roughly in [-1, 1].

    num_ws (rosinality's n_latent) = 2 * log2(size) - 2 style vectors: layer i of the synthesis
    network (conv, conv, ..., with ToRGB sharing the next conv's index) reads ws[:, i].
    """

    def __init__(self, size: int, style_dim: int = 512, n_mlp: int = 8, channel_multiplier: int = 2,
                 blur_kernel: Sequence[int] = (1, 3, 3, 1), lr_mlp: float = 0.01, *, img_channels: int = 3,
                 channel_base: int | None = None, channel_max: int | None = None, z_dim: int | None = None,
                 conv_clamp: float | None = None):
        super().__init__()
        self.size, self.style_dim, self.z_dim = size, style_dim, z_dim or style_dim
        self.log_size = log2_size(size)
        ch = channel_table(channel_multiplier, channel_base, channel_max)
        self.channels = {r: ch[r] for r in ch if r <= size}
        dims = [self.z_dim] + [style_dim] * n_mlp
        self.style = nn.Sequential(
            PixelNorm(), *(EqualLinear(a, b, lr_mul=lr_mlp, act=True) for a, b in zip(dims[:-1], dims[1:]))
        )
        kw = dict(blur_kernel=blur_kernel, clamp=conv_clamp)
        self.input = ConstantInput(ch[4])
        self.conv1 = StyledConv(ch[4], ch[4], 3, style_dim, **kw)
        self.to_rgb1 = ToRGB(ch[4], style_dim, img_channels, upsample=False, **kw)
        self.convs, self.to_rgbs, self.noises = nn.ModuleList(), nn.ModuleList(), nn.Module()
        self.num_layers = (self.log_size - 2) * 2 + 1
        for i in range(self.num_layers):
            res = 2 ** ((i + 5) // 2)
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, res, res))
        for log in range(3, self.log_size + 1):
            c_in, c_out = ch[2 ** (log - 1)], ch[2**log]
            self.convs.append(StyledConv(c_in, c_out, 3, style_dim, upsample=True, **kw))
            self.convs.append(StyledConv(c_out, c_out, 3, style_dim, **kw))
            self.to_rgbs.append(ToRGB(c_out, style_dim, img_channels, **kw))
        self.num_ws = self.log_size * 2 - 2

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """z [N, z_dim] -> w [N, style_dim] (PixelNorm, then n_mlp equalized-lr layers)."""
        return self.style(z)

    @torch.no_grad()
    def mean_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean of mapping(z) over n random z: the truncation centre, [1, style_dim]."""
        z = torch.randn(n, self.z_dim, generator=generator, device=self.input.input.device)
        return self.mapping(z).mean(0, keepdim=True)

    def make_noise(self, n: int, noise_mode: NoiseMode, generator: torch.Generator | None = None) -> list:
        """One noise map per layer: the stored buffers, fresh N(0, 1) drawn from generator, or None."""
        if noise_mode == "const":
            return [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]
        if noise_mode == "none":
            return [None] * self.num_layers
        if noise_mode != "random":
            raise ValueError(f"noise_mode must be const, random or none, not {noise_mode!r}")
        dev = self.input.input.device
        return [torch.randn(n, 1, 2 ** ((i + 5) // 2), 2 ** ((i + 5) // 2), generator=generator, device=dev)
                for i in range(self.num_layers)]

    def synthesis(self, ws: torch.Tensor, noise_mode: NoiseMode = "const", generator: torch.Generator | None = None,
                  noise: list | None = None) -> torch.Tensor:
        """ws [N, num_ws, style_dim] -> image. `noise` (one map per layer) overrides noise_mode."""
        if ws.ndim != 3 or ws.shape[1] != self.num_ws:
            raise ValueError(f"ws must be [N, {self.num_ws}, {self.style_dim}], not {list(ws.shape)}")
        noise = noise if noise is not None else self.make_noise(ws.shape[0], noise_mode, generator)
        x = self.conv1(self.input(ws.shape[0]), ws[:, 0], noise[0])
        skip = self.to_rgb1(x, ws[:, 1], None)
        for j, to_rgb in enumerate(self.to_rgbs):
            i = 2 * j + 1
            x = self.convs[2 * j](x, ws[:, i], noise[i])
            x = self.convs[2 * j + 1](x, ws[:, i + 1], noise[i + 1])
            skip = to_rgb(x, ws[:, i + 2], skip)
        return skip.contiguous()

    def forward(self, styles: torch.Tensor | Sequence[torch.Tensor], input_is_latent: bool = False,
                truncation: float = 1.0, truncation_latent: torch.Tensor | None = None,
                noise_mode: NoiseMode = "const", inject_index: int | None = None,
                generator: torch.Generator | None = None, noise: list | None = None) -> torch.Tensor:
        """z, [z1, z2] (style mixing at inject_index), w, or w+ [N, num_ws, D] (input_is_latent) -> image.

        Truncation: w <- truncation_latent + truncation * (w - truncation_latent); a random inject_index
        is drawn from `generator`, as is random noise.
        """
        styles = [styles] if isinstance(styles, torch.Tensor) else list(styles)
        if not input_is_latent:
            styles = [self.mapping(s) for s in styles]
        if truncation != 1:
            if truncation_latent is None:
                raise ValueError("truncation needs truncation_latent (mean_latent() or a converted w_avg)")
            styles = [truncation_latent + truncation * (s - truncation_latent) for s in styles]
        if len(styles) == 1:
            s = styles[0]
            ws = s if s.ndim == 3 else s.unsqueeze(1).expand(-1, self.num_ws, -1)
        else:
            if inject_index is None:
                inject_index = int(torch.randint(1, self.num_ws, (), generator=generator))
            a, b = styles[0].unsqueeze(1), styles[1].unsqueeze(1)
            ws = torch.cat([a.expand(-1, inject_index, -1), b.expand(-1, self.num_ws - inject_index, -1)], 1)
        return self.synthesis(ws, noise_mode, generator, noise)


class ConvLayer(nn.Sequential):
    """[Blur,] EqualConv2d, [FusedLeakyReLU]: rosinality's indices, so keys read `convs.1.conv2.1.weight`."""

    def __init__(self, c_in: int, c_out: int, k: int, downsample: bool = False,
                 blur_kernel: Sequence[int] = (1, 3, 3, 1), bias: bool = True, activate: bool = True):
        layers: list[nn.Module] = []
        if downsample:
            p = len(blur_kernel) - 2 + (k - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
        layers.append(EqualConv2d(c_in, c_out, k, stride=2 if downsample else 1,
                                  padding=0 if downsample else k // 2, bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(c_out, bias=bias))
        super().__init__(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        blur_, conv = (self[0], self[1]) if isinstance(self[0], Blur) else (None, self[0])
        if blur_ is not None and conv.weight.shape[-1] == 1:
            # the 1x1 skip: blur and subsample in one strided depthwise conv (only kept pixels computed)
            x = F.conv2d(blur_(x, stride=2), conv.weight * conv.scale, conv.bias)
        else:
            x = conv(blur_(x) if blur_ is not None else x)
        return self[-1](x) if isinstance(self[-1], FusedLeakyReLU) else x


class EqualConv2d(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, padding: int = 0, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k))
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        self.scale, self.stride, self.padding = 1 / math.sqrt(c_in * k * k), stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, blur_kernel: Sequence[int] = (1, 3, 3, 1)):
        super().__init__()
        self.conv1 = ConvLayer(c_in, c_in, 3)
        self.conv2 = ConvLayer(c_in, c_out, 3, downsample=True, blur_kernel=blur_kernel)
        self.skip = ConvLayer(c_in, c_out, 1, downsample=True, blur_kernel=blur_kernel, bias=False, activate=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)


class Discriminator(nn.Module):
    """Residual discriminator with minibatch stddev (group `mbstd_group`, 1 feature): image -> logit [N, 1]."""

    def __init__(self, size: int, channel_multiplier: int = 2, blur_kernel: Sequence[int] = (1, 3, 3, 1), *,
                 img_channels: int = 3, channel_base: int | None = None, channel_max: int | None = None,
                 mbstd_group: int = 4):
        super().__init__()
        ch = channel_table(channel_multiplier, channel_base, channel_max)
        log_size = log2_size(size)
        convs: list[nn.Module] = [ConvLayer(img_channels, ch[size], 1)]
        for log in range(log_size, 2, -1):
            convs.append(ResBlock(ch[2**log], ch[2 ** (log - 1)], blur_kernel))
        self.convs = nn.Sequential(*convs)
        self.stddev_group, self.stddev_feat = mbstd_group, 1
        self.final_conv = ConvLayer(ch[4] + 1, ch[4], 3)
        self.final_linear = nn.Sequential(EqualLinear(ch[4] * 16, ch[4], act=True), EqualLinear(ch[4], 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.convs(x.contiguous(memory_format=torch.channels_last))
        n, c, h, w = out.shape
        group = min(n, self.stddev_group)
        if n % group:
            raise ValueError(f"batch {n} is not a multiple of the stddev group {group}")
        s = out.reshape(group, -1, self.stddev_feat, c // self.stddev_feat, h, w)
        s = torch.sqrt(s.var(0, unbiased=False) + 1e-8).mean([2, 3, 4], keepdim=True).squeeze(2)
        out = torch.cat([out, s.repeat(group, 1, h, w)], 1)
        return self.final_linear(self.final_conv(out).reshape(n, -1))
