"""The photo2cartoon generator (minivision-ai), laid out so `photo2cartoon_weights.pt` loads as it is.

It is U-GAT-IT's generator (see `ugatit.py`) with three changes from minivision-ai/photo2cartoon's
`models/networks.py`, whose module names and Sequential positions the keys follow:

- two hourglass modules (a 4-level U-shaped stack of multi-scale residual units) after the first conv
  and two before the last, the last one reducing to 3 channels;
- Soft-AdaLIN in the decoder: gamma and beta are a learned per-channel blend, weights `w_gamma` and
  `w_beta`, of a style part (from the attention branch, as in U-GAT-IT) and a content part (an MLP on
  the global average of the matching encoder block's output, taken in reverse order: decoder block 1
  reads encoder block 4; the four averages are in fact equal up to rounding, since each residual
  block adds an instance-normalised, zero-mean term);
- four blocks each side, biases in the CAM classifiers, the 1x1 conv and the MLPs; no input_nc /
  output_nc (RGB in and out).

The released model is `ResnetGenerator(ngf=32, img_size=256, light=True)`: RGB 256x256 aligned faces,
background whitened with the face mask, scaled to [-1, 1]. `photo_to_input` and `output_to_cartoon`
reproduce its test script's pre- and post-processing. Training clamps `rho` with `clip_rho_` and
the blend weights with `clip_blend_`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan_cli.nets.ugatit import ILN, AdaILN, ResnetBlock, class_activation, pad_conv

__all__ = ["ResnetGenerator", "clip_blend_", "output_to_cartoon", "photo_to_input"]


class ConvBlock(nn.Module):
    """Multi-scale residual unit: three (IN, ReLU, 3x3 conv) steps of width dim/2, dim/4, dim/4 whose
    outputs are concatenated and added to the input. `ConvBlock4`, a 1x1 projection for when the
    widths differ, exists (and is saved) in every unit but is never used at the widths below."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        if dim_out % 4:
            raise ValueError(f"hourglass width must be divisible by 4, not {dim_out}")
        widths = [dim_in, dim_out // 2, dim_out // 4, dim_out // 4]
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]), start=1):
            setattr(self, f"ConvBlock{i}", nn.Sequential(nn.InstanceNorm2d(a), nn.ReLU(True), *pad_conv(a, b, 3)))
        self.ConvBlock4 = nn.Sequential(
            nn.InstanceNorm2d(dim_in), nn.ReLU(True), nn.Conv2d(dim_in, dim_out, 1, bias=False)
        )
        self.project = dim_in != dim_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.ConvBlock1(x)
        x2 = self.ConvBlock2(x1)
        x3 = self.ConvBlock3(x2)
        return (self.ConvBlock4(x) if self.project else x) + torch.cat([x1, x2, x3], 1)


class HourGlassBlock(nn.Module):
    """4 levels: at each, a skip unit at this scale and a unit after 2x average pooling; a centre
    unit at 1/16; then back up, a unit and a 2x nearest upsample per level, plus that level's skip.
    The spatial size must be divisible by 16."""

    LEVELS = 4

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        for level in range(1, self.LEVELS + 1):
            setattr(self, f"ConvBlock{level}_1", ConvBlock(dim_in if level == 1 else dim_out, dim_out))
            setattr(self, f"ConvBlock{level}_2", ConvBlock(dim_out, dim_out))
        for i in range(5, 10):  # 5: centre; 6..9: the way up, deepest level first
            setattr(self, f"ConvBlock{i}", ConvBlock(dim_out, dim_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for level in range(1, self.LEVELS + 1):
            skips.append(getattr(self, f"ConvBlock{level}_1")(x))
            x = getattr(self, f"ConvBlock{level}_2")(F.avg_pool2d(x, 2))
        x = self.ConvBlock5(x)
        for i, skip in zip(range(6, 10), reversed(skips)):
            x = skip + F.interpolate(getattr(self, f"ConvBlock{i}")(x), scale_factor=2, mode="nearest")
        return x


class HourGlass(nn.Module):
    """Hourglass, unit, 1x1 conv + IN + ReLU, and a 3-channel side output `Conv1`. With `use_res`
    the result is x + Conv2(features) + Conv3(side output); without, the side output itself."""

    def __init__(self, dim_in: int, dim_out: int, use_res: bool = True) -> None:
        super().__init__()
        self.use_res = use_res
        self.HG = nn.Sequential(
            HourGlassBlock(dim_in, dim_out), ConvBlock(dim_out, dim_out),
            nn.Conv2d(dim_out, dim_out, 1, bias=False), nn.InstanceNorm2d(dim_out), nn.ReLU(True),
        )  # fmt: skip
        self.Conv1 = nn.Conv2d(dim_out, 3, 1)
        if use_res:
            self.Conv2 = nn.Conv2d(dim_out, dim_out, 1)
            self.Conv3 = nn.Conv2d(3, dim_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.HG(x)
        side = self.Conv1(features)
        return x + self.Conv2(features) + self.Conv3(side) if self.use_res else side


def _mlp2(dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, dim), nn.ReLU(True), nn.Linear(dim, dim))


class SoftAdaLIN(nn.Module):
    """AdaILN whose gamma (beta) is (1 - w_gamma) * style_gamma + w_gamma * content_gamma, per channel."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = AdaILN(dim)
        self.w_gamma = nn.Parameter(torch.zeros(1, dim))
        self.w_beta = nn.Parameter(torch.zeros(1, dim))
        self.c_gamma, self.c_beta = _mlp2(dim), _mlp2(dim)
        self.s_gamma, self.s_beta = nn.Linear(dim, dim), nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        gamma = (1 - self.w_gamma) * self.s_gamma(style) + self.w_gamma * self.c_gamma(content)
        beta = (1 - self.w_beta) * self.s_beta(style) + self.w_beta * self.c_beta(content)
        return self.norm(x, gamma, beta)


class ResnetSoftAdaLINBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.pad = nn.ReflectionPad2d(1)
        self.conv1 = nn.Conv2d(dim, dim, 3, 1, 0, bias=False)
        self.norm1 = SoftAdaLIN(dim)
        self.conv2 = nn.Conv2d(dim, dim, 3, 1, 0, bias=False)
        self.norm2 = SoftAdaLIN(dim)

    def forward(self, x: torch.Tensor, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm1(self.conv1(self.pad(x)), content, style))
        return x + self.norm2(self.conv2(self.pad(h)), content, style)


def _down(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(*pad_conv(cin, cout, 3, stride=2), nn.InstanceNorm2d(cout), nn.ReLU(True))


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), *pad_conv(cin, cout, 3), ILN(cout), nn.ReLU(True))


class ResnetGenerator(nn.Module):
    """RGB (N, 3, S, S) in [-1, 1] -> (RGB (N, 3, S, S) in [-1, 1], cam_logit (N, 2), heatmap (N, 1, S/4, S/4)).

    S must be divisible by 16 (the hourglasses); without `light`, S must equal `img_size`.
    """

    N_BLOCKS = 4

    def __init__(self, ngf: int = 32, img_size: int = 256, light: bool = True) -> None:
        super().__init__()
        if ngf < 4 or ngf % 4 or img_size % 16:
            raise ValueError(f"need ngf divisible by 4 and img_size by 16 (got ngf={ngf}, img_size={img_size})")
        self.light = light
        dim = ngf * 4
        self.ConvBlock1 = nn.Sequential(*pad_conv(3, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True))
        self.HourGlass1 = HourGlass(ngf, ngf)
        self.HourGlass2 = HourGlass(ngf, ngf)
        self.DownBlock1 = _down(ngf, 2 * ngf)
        self.DownBlock2 = _down(2 * ngf, dim)
        for i in range(1, self.N_BLOCKS + 1):
            setattr(self, f"EncodeBlock{i}", ResnetBlock(dim))
        self.gap_fc = nn.Linear(dim, 1)
        self.gmp_fc = nn.Linear(dim, 1)
        self.conv1x1 = nn.Conv2d(2 * dim, dim, 1, 1)
        fc_in = dim if light else (img_size // 4) ** 2 * dim
        self.FC = nn.Sequential(nn.Linear(fc_in, dim), nn.ReLU(True), nn.Linear(dim, dim), nn.ReLU(True))
        for i in range(1, self.N_BLOCKS + 1):
            setattr(self, f"DecodeBlock{i}", ResnetSoftAdaLINBlock(dim))
        self.UpBlock1 = _up(dim, 2 * ngf)
        self.UpBlock2 = _up(2 * ngf, ngf)
        self.HourGlass3 = HourGlass(ngf, ngf)
        self.HourGlass4 = HourGlass(ngf, ngf, use_res=False)
        self.ConvBlock2 = nn.Sequential(*pad_conv(3, 3, 7), nn.Tanh())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.HourGlass2(self.HourGlass1(self.ConvBlock1(x)))
        x = self.DownBlock2(self.DownBlock1(x))
        content = []
        for i in range(1, self.N_BLOCKS + 1):
            x = getattr(self, f"EncodeBlock{i}")(x)
            content.append(F.adaptive_avg_pool2d(x, 1).flatten(1))
        x, cam_logit = class_activation(x, self.gap_fc, self.gmp_fc, self.gap_fc.weight, self.gmp_fc.weight)
        x = F.relu(self.conv1x1(x))
        heatmap = x.sum(1, keepdim=True)
        style = self.FC(F.adaptive_avg_pool2d(x, 1).flatten(1) if self.light else x.flatten(1))
        for i, c in zip(range(1, self.N_BLOCKS + 1), reversed(content)):
            x = getattr(self, f"DecodeBlock{i}")(x, c, style)
        x = self.HourGlass4(self.HourGlass3(self.UpBlock2(self.UpBlock1(x))))
        return self.ConvBlock2(x), cam_logit, heatmap


def clip_blend_(module: nn.Module, hi: float = 1.0) -> None:
    """Clamp every Soft-AdaLIN blend weight (w_gamma, w_beta) under `module` into [0, hi] in place:
    the reference's WClipper(0, w_clipper=1), applied after each generator step with `clip_rho_`."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, SoftAdaLIN):
                m.w_gamma.clamp_(0.0, hi)
                m.w_beta.clamp_(0.0, hi)


def _resize_area(img: np.ndarray, size: int) -> np.ndarray:
    if img.shape[:2] == (size, size):
        return img
    import cv2  # comes with mediapipe; only needed when the face is not at the net's size

    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


def photo_to_input(rgba: np.ndarray, size: int = 256) -> tuple[torch.Tensor, np.ndarray]:
    """An aligned face, uint8 RGBA (H, W, 4) with the face mask as alpha -> (net input (1, 3, size, size)
    float32 in [-1, 1], mask (size, size, 1) float64 in [0, 1]).

    As photo2cartoon's test.py: resize with area interpolation, whiten the background
    (rgb * mask + 255 * (1 - mask)), scale to [-1, 1]. Keep the mask for `output_to_cartoon`.
    """
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGBA array (H, W, 4), not {rgba.dtype} {rgba.shape}")
    rgba = _resize_area(rgba, size)
    mask = rgba[:, :, 3:4] / 255.0
    face = (rgba[:, :, :3] * mask + (1 - mask) * 255) / 127.5 - 1
    return torch.from_numpy(face.transpose(2, 0, 1)[None].astype(np.float32)), mask


def output_to_cartoon(out: torch.Tensor, mask: np.ndarray) -> np.ndarray:
    """The generator's first output for one image, (3, S, S) or (1, 3, S, S) in [-1, 1], -> uint8 RGB (S, S, 3).

    As photo2cartoon's test.py: (out + 1) * 127.5, the background outside `mask` (from `photo_to_input`)
    set to white: cartoon * mask + 255 * (1 - mask), then truncated (not rounded) to uint8.
    """
    img = out.detach().reshape(3, *out.shape[-2:]).cpu().float().numpy().transpose(1, 2, 0)
    cartoon = (img + 1) * 127.5
    return (cartoon * mask + 255 * (1 - mask)).astype(np.uint8)
