"""Progressive GAN networks (Karras et al. 2018), as tkarras/progressive_growing_of_gans `networks.py`
builds G_paper and D_paper with the "linear" structure, in plain PyTorch; the layers are shared with
StyleGAN v1 (gan_cli/nets/stylegan.py).

- Equalized learning rate: weights are drawn from N(0, 1) and scaled at run time by He's constant
  gain / sqrt(fan_in) (times an lr multiplier, for StyleGAN's mapping network).
- Channels per resolution 2^r: nf(r - 1) with nf(stage) = min(fmap_base / 2^stage, fmap_max).
- G: z (pixel-normalised) -> dense to 4x4 -> conv; then per resolution nearest 2x upsampling and two
  3x3 convs; leaky ReLU 0.2 and pixelwise feature normalisation after every layer; a linear 1x1 toRGB per
  resolution. D mirrors it with fromRGB 1x1 layers, two convs and 2x2 average pooling per resolution,
  then minibatch stddev, a conv and two dense layers at 4x4.
- Growing: the nets run up to the stage's resolution only (not at full size with nearest-upsampled
  inputs as the official graph does: the same numbers, less work). While a resolution fades in, G's image is
  lerp(upsampled toRGB of the previous resolution, toRGB of the new one, alpha) and D's features
  lerp(fromRGB of the 2x-pooled image, the new block's output, alpha). G's stage is its `lod` buffer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


def nf(stage: int, fmap_base: int, fmap_max: int) -> int:
    """Feature maps of a stage (the official nf(); resolution 2^r uses nf(r - 1))."""
    return max(1, min(int(fmap_base / 2.0**stage), fmap_max))


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Each pixel's feature vector scaled to unit mean square (over channels, dim 1)."""
    return x * torch.rsqrt(x.square().mean(1, keepdim=True) + eps)


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """Append one feature map: the stddev over each group of samples, averaged over features and pixels.

    Sample i belongs to group i % (N / G) (the official reshape to [G, M, C, H, W]).
    """
    n, c, h, w = x.shape
    g = min(group_size, n)
    if n % g:
        raise ValueError(f"batch {n} is not a multiple of the minibatch stddev group {g}")
    y = x.float().reshape(g, -1, c, h, w)
    y = y - y.mean(0, keepdim=True)
    y = (y.square().mean(0) + 1e-8).sqrt().mean([1, 2, 3], keepdim=True)  # [M, 1, 1, 1]
    return torch.cat([x, y.to(x.dtype).repeat(g, 1, h, w)], 1)


def upscale2d(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class EqConv2d(nn.Module):
    """Conv with equalized lr (weight * gain / sqrt(fan_in)), 'same' padding, optional bias (zeros)."""

    def __init__(self, c_in: int, c_out: int, k: int, gain: float = SQRT2, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k))
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        self.scale = gain / math.sqrt(c_in * k * k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.weight.shape[-1] // 2)


class EqLinear(nn.Module):
    """Dense layer with equalized lr; `lr_mul` scales its effective learning rate (weights N(0, 1/lr_mul))."""

    def __init__(self, in_dim: int, out_dim: int, gain: float = SQRT2, lr_mul: float = 1.0, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None
        self.scale, self.lr_mul = gain / math.sqrt(in_dim) * lr_mul, lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias * self.lr_mul
        return F.linear(x, self.weight * self.scale, bias)


def stage_of_lod(lod: float, log2_size: int) -> tuple[int, float]:
    """(log2 of the stage's resolution, alpha) of a level of detail."""
    level = math.floor(lod)
    return log2_size - level, 1.0 - (lod - level)


class GBlock(nn.Module):
    """One resolution of G: at 4x4 dense + conv, above it upscale + two convs; lrelu + pixel norm after each."""

    def __init__(self, c_in: int, c_out: int, first: bool):
        super().__init__()
        self.first = first
        if first:  # c_in = z_dim; the official 'Dense' has 16 * c_out units and gain sqrt(2)/4, a bias per channel
            self.dense = EqLinear(c_in, c_out * 16, gain=SQRT2 / 4, bias=False)
            self.bias = nn.Parameter(torch.zeros(c_out))
            self.conv = EqConv2d(c_out, c_out, 3)
        else:
            self.conv0 = EqConv2d(c_in, c_out, 3)
            self.conv1 = EqConv2d(c_out, c_out, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.first:
            x = self.dense(x).view(x.shape[0], -1, 4, 4) + self.bias.view(1, -1, 1, 1)
            x = x.contiguous(memory_format=torch.channels_last)  # see grow_discriminator
            x = pixel_norm(lrelu(x))
            return pixel_norm(lrelu(self.conv(x)))
        x = pixel_norm(lrelu(self.conv0(upscale2d(x))))
        return pixel_norm(lrelu(self.conv1(x)))


class Generator(nn.Module):
    """z [N, z_dim] -> image [N, C, res, res] at the stage held in the `lod` buffer (0 = full size)."""

    def __init__(self, size: int, z_dim: int, img_channels: int, fmap_base: int, fmap_max: int,
                 normalize_latents: bool = True):
        super().__init__()
        self.log2_size, self.z_dim, self.normalize_latents = int(math.log2(size)), z_dim, normalize_latents
        ch = [nf(r - 1, fmap_base, fmap_max) for r in range(2, self.log2_size + 1)]
        self.blocks = nn.ModuleList([GBlock(z_dim, ch[0], True)])
        self.blocks.extend(GBlock(a, b, False) for a, b in zip(ch[:-1], ch[1:]))
        self.to_rgb = nn.ModuleList(EqConv2d(c, img_channels, 1, gain=1.0) for c in ch)
        self.register_buffer("lod", torch.zeros((), dtype=torch.float64))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        r, alpha = stage_of_lod(float(self.lod), self.log2_size)
        x = pixel_norm(z) if self.normalize_latents else z
        prev = x
        for block in self.blocks[: r - 1]:
            prev, x = x, block(x)
        return grow_output(self.to_rgb, x, prev, r, alpha)


def grow_output(to_rgb: nn.ModuleList, x: torch.Tensor, prev: torch.Tensor, r: int, alpha: float) -> torch.Tensor:
    """The image of a growing G at stage 2^r px: toRGB of the last block, and during a fade (alpha < 1) blended
    with the upscaled toRGB of the block before (`prev`), as both papers' 'linear' structure does."""
    img = to_rgb[r - 2](x)
    if alpha < 1 and r > 2:
        img = torch.lerp(img, upscale2d(to_rgb[r - 3](prev)), 1.0 - alpha)
    return img


class DBlock(nn.Module):
    """One resolution of D above 4x4: two 3x3 convs (lrelu), then 2x2 average pooling."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv0 = EqConv2d(c_in, c_in, 3)
        self.conv1 = EqConv2d(c_in, c_out, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(lrelu(self.conv1(lrelu(self.conv0(x)))), 2)


class DEpilogue(nn.Module):
    """D at 4x4: minibatch stddev, a 3x3 conv, a dense layer, and the score (gain 1)."""

    def __init__(self, c: int, c_dense: int, mbstd_group: int):
        super().__init__()
        self.mbstd_group = mbstd_group
        self.conv = EqConv2d(c + (mbstd_group > 1), c, 3)
        self.dense0 = EqLinear(c * 16, c_dense)
        self.dense1 = EqLinear(c_dense, 1, gain=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mbstd_group > 1:
            x = minibatch_stddev(x, self.mbstd_group)
        x = lrelu(self.conv(x))
        return self.dense1(lrelu(self.dense0(x.flatten(1))))


def grow_discriminator(blocks: nn.ModuleList, from_rgb: nn.ModuleList, epilogue: nn.Module,
                       img: torch.Tensor, alpha: float) -> torch.Tensor:
    """The 'linear' D of both papers, from the image's resolution down: the fade at the top, then 4x4."""
    r = int(math.log2(img.shape[-1]))
    # channels-last activations: faster convs on a CPU, and the same numbers whatever the weights' memory format
    # (the loop stores them channels-last, a loaded checkpoint does not)
    img = img.contiguous(memory_format=torch.channels_last)
    x = lrelu(from_rgb[r - 2](img))
    if r > 2:
        x = blocks[r - 3](x)
        if alpha < 1:
            x = torch.lerp(x, lrelu(from_rgb[r - 3](F.avg_pool2d(img, 2))), 1.0 - alpha)
        for block in reversed(blocks[: r - 3]):
            x = block(x)
    return epilogue(x)


class Discriminator(nn.Module):
    """image [N, C, res, res] at any stage resolution -> score [N, 1]; alpha fades its top resolution in."""

    def __init__(self, size: int, img_channels: int, fmap_base: int, fmap_max: int, mbstd_group: int = 4):
        super().__init__()
        log2_size = int(math.log2(size))
        ch = [nf(r - 1, fmap_base, fmap_max) for r in range(2, log2_size + 1)]  # features at 4, 8, ... px
        self.from_rgb = nn.ModuleList(EqConv2d(img_channels, c, 1) for c in ch)
        self.blocks = nn.ModuleList(DBlock(ch[i], ch[i - 1]) for i in range(1, len(ch)))  # block i: 8*2^i px
        self.epilogue = DEpilogue(ch[0], nf(0, fmap_base, fmap_max), mbstd_group)

    def forward(self, img: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
        return grow_discriminator(self.blocks, self.from_rgb, self.epilogue, img, alpha)
