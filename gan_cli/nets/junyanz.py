"""pix2pix and CycleGAN networks, module for module as in junyanz/pytorch-CycleGAN-and-pix2pix.

Why copy a layout instead of designing our own: the point is to run the many published junyanz
checkpoints unchanged. A state dict's keys are module paths (`model.10.conv_block.5.weight`,
`model.model.1.model.3.model.1.weight`), so every `nn.Sequential` here holds the same layers in the
same order as the reference's, parameter-free ones (padding, ReLU, Dropout) included: drop one and
every later index shifts. For the same reason modules are created in the reference's order, so
that `init_weights` after `torch.manual_seed(s)` draws the very same weights as the reference does.

Settings that decide the numbers, as in the reference's `get_norm_layer` and constructors:
- norm "instance": InstanceNorm2d(affine=False, track_running_stats=False), so no parameters and
  no buffers; convolutions before it get a bias. "batch": BatchNorm2d(affine=True,
  track_running_stats=True) and convolutions without bias (the norm's shift replaces it).
  "none": Identity (and, as in the reference, no bias either).
- Dropout(0.5): inside each ResnetBlock after the first ReLU (this shifts the block's later keys,
  so it shows in a checkpoint), and at the end of the U-Net's ngf*8 middle blocks (no key moves:
  not visible in a checkpoint).

Sizes: resnet generators take any H, W >= 5 but give back 4 * ceil(H / 4) (two stride-2 convs,
two 2x transposed convs); U-Nets need H and W to be multiples of 2**num_downs (256 for unet_256)
or the skip concatenation fails. `required_multiple` says which, for padding.

Test-time mode: the reference's test.py leaves the networks in train mode unless --eval is given,
so pix2pix results are made with dropout active and BatchNorm normalising with the test batch's
own statistics. `set_test_mode` makes that choice explicit.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

NORMS = ("instance", "batch", "none")
TEST_MODES = ("eval", "dropout", "reference")


def norm_layer(kind: str, channels: int) -> nn.Module:
    """The reference's norm layers: the exact flags matter for the state dict (buffers) and the output."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels, affine=True, track_running_stats=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r} ({', '.join(NORMS)})")


def _use_bias(norm: str) -> bool:
    """Convolutions before a norm carry a bias only for instance norm (the reference's rule, "none" included)."""
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r} ({', '.join(NORMS)})")
    return norm == "instance"


class ResnetBlock(nn.Module):
    """x + [pad, conv3x3, norm, ReLU, (Dropout), pad, conv3x3, norm](x), reflection padding."""

    def __init__(self, dim: int, norm: str, use_dropout: bool) -> None:
        super().__init__()
        bias = _use_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=bias),
            norm_layer(norm, dim),
            nn.ReLU(True),
        ]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), norm_layer(norm, dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """Johnson et al.'s transformer net: 7x7 conv, two stride-2 convs, n residual blocks, two 2x up, 7x7 conv, Tanh.

    Keys for n_blocks=9: model.1 (stem), model.4 and model.7 (down), model.10..18 (blocks),
    model.19 and model.22 (up), model.26 (last conv, always with a bias).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        ngf: int = 64,
        norm: str = "instance",
        use_dropout: bool = False,
        n_blocks: int = 9,
    ) -> None:
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, not {n_blocks}")
        bias = _use_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_ch, ngf, 7, bias=bias),
            norm_layer(norm, ngf),
            nn.ReLU(True),
        ]
        for i in range(2):
            c = ngf * 2**i
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=bias), norm_layer(norm, 2 * c), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4, norm, use_dropout) for _ in range(n_blocks)]
        for i in range(2):
            c = ngf * 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                norm_layer(norm, c // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_ch, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class UnetBlock(nn.Module):
    """One U-Net level: x -> cat(x, up(inner(down(x)))); the outermost level returns up(...) alone, through Tanh.

    `model` is [down..., inner, up...] as in the reference's UnetSkipConnectionBlock, so the inner
    block's keys nest as `model.1.` (outermost) or `model.3.` (the others).
    """

    def __init__(
        self,
        outer_ch: int,
        inner_ch: int,
        norm: str,
        in_ch: int | None = None,
        inner: UnetBlock | None = None,
        outermost: bool = False,
        use_dropout: bool = False,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        bias = _use_bias(norm)
        downconv = nn.Conv2d(in_ch or outer_ch, inner_ch, 4, stride=2, padding=1, bias=bias)
        if outermost:
            up_conv = nn.ConvTranspose2d(inner_ch * 2, outer_ch, 4, stride=2, padding=1)
            layers = [downconv, inner, nn.ReLU(True), up_conv, nn.Tanh()]
        elif inner is None:  # innermost: no norm on the 1x1 bottleneck, nothing to concatenate
            up_conv = nn.ConvTranspose2d(inner_ch, outer_ch, 4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), downconv, nn.ReLU(True), up_conv, norm_layer(norm, outer_ch)]
        else:
            down_norm, up_norm = norm_layer(norm, inner_ch), norm_layer(norm, outer_ch)
            up_conv = nn.ConvTranspose2d(inner_ch * 2, outer_ch, 4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), downconv, down_norm, inner, nn.ReLU(True), up_conv, up_norm]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """U-Net with num_downs stride-2 levels (7: unet_128, 8: unet_256), built from the bottleneck outwards.

    Widths from the outside in: ngf, 2ngf, 4ngf, then 8ngf for the rest; dropout (if asked) only
    in the num_downs - 5 middle 8ngf levels, as in the reference.
    """

    def __init__(
        self, in_ch: int, out_ch: int, num_downs: int = 8, ngf: int = 64, norm: str = "batch", use_dropout: bool = False
    ) -> None:
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"num_downs must be >= 5, not {num_downs}")
        block = UnetBlock(ngf * 8, ngf * 8, norm)
        for _ in range(num_downs - 5):
            block = UnetBlock(ngf * 8, ngf * 8, norm, inner=block, use_dropout=use_dropout)
        for mult in (4, 2, 1):
            block = UnetBlock(ngf * mult, ngf * mult * 2, norm, inner=block)
        self.model = UnetBlock(out_ch, ngf, norm, in_ch=in_ch, inner=block, outermost=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """PatchGAN: n_layers stride-2 4x4 convs (widths ndf * min(2**i, 8)), one stride-1 conv, a 1-channel map."""

    def __init__(self, in_ch: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch") -> None:
        super().__init__()
        bias = _use_bias(norm)
        layers: list[nn.Module] = [nn.Conv2d(in_ch, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            conv = nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=bias)
            layers += [conv, norm_layer(norm, ndf * mult), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """1x1 PatchGAN ("pixelGAN"): a per-pixel real/fake map from 1x1 convs."""

    def __init__(self, in_ch: int, ndf: int = 64, norm: str = "batch") -> None:
        super().__init__()
        bias = _use_bias(norm)
        self.net = nn.Sequential(
            nn.Conv2d(in_ch, ndf, 1),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 1, bias=bias),
            norm_layer(norm, ndf * 2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, 1, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """The reference's init_type "normal": conv weights ~ N(0, gain); BatchNorm weights ~ N(1, gain); biases 0.

    Leaf modules are visited in the reference's order, so the same seed gives the same weights.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


_RESNET = re.compile(r"resnet_(\d+)blocks")
_UNET = re.compile(r"unet_(\d+)")


def _unet_downs(name: str) -> int | None:
    """unet_256 -> 8, unet_128 -> 7 (the input side that reaches 1x1 at the bottleneck); None if not a U-Net name."""
    m = _UNET.fullmatch(name)
    if not m:
        return None
    size = int(m.group(1))
    downs = size.bit_length() - 1
    if 2**downs != size or downs < 5:
        raise ValueError(f"{name}: the U-Net size must be a power of two >= 32")
    return downs


def build_generator(
    name: str, in_ch: int = 3, out_ch: int = 3, ngf: int = 64, norm: str = "instance", use_dropout: bool = False
) -> nn.Module:
    """A generator by the reference's --netG name: resnet_9blocks, resnet_6blocks, unet_256, unet_128.

    Any resnet_<N>blocks and unet_<2**k> (k >= 5) work too. Defaults are the reference's CycleGAN
    ones; its pix2pix uses unet_256 with norm="batch" and use_dropout=True. Weights are not
    initialised here (call `init_weights` to train from scratch, or load a state dict).
    """
    if m := _RESNET.fullmatch(name):
        return ResnetGenerator(in_ch, out_ch, ngf, norm, use_dropout, n_blocks=int(m.group(1)))
    if (downs := _unet_downs(name)) is not None:
        return UnetGenerator(in_ch, out_ch, downs, ngf, norm, use_dropout)
    raise ValueError(f"unknown generator {name!r} (resnet_9blocks, resnet_6blocks, unet_256, unet_128)")


def build_discriminator(name: str, in_ch: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch") -> nn.Module:
    """A discriminator by the reference's --netD name: basic (PatchGAN, 3 layers), n_layers, pixel."""
    if name == "basic":
        return NLayerDiscriminator(in_ch, ndf, 3, norm)
    if name == "n_layers":
        return NLayerDiscriminator(in_ch, ndf, n_layers, norm)
    if name == "pixel":
        return PixelDiscriminator(in_ch, ndf, norm)
    raise ValueError(f"unknown discriminator {name!r} (basic, n_layers, pixel)")


def required_multiple(net_kwargs: dict[str, Any]) -> int:
    """What H and W must be multiples of for the output to have the input's size: pad up to it, crop back after.

    resnet_*: 4 (other sizes run, but come back rounded up to a multiple of 4);
    unet_<S>: S = 2**num_downs (other sizes fail in the skip concatenation).
    """
    name = net_kwargs["name"]
    if _RESNET.fullmatch(name):
        return 4
    if (downs := _unet_downs(name)) is not None:
        return 2**downs
    raise ValueError(f"unknown generator {name!r}")


def set_test_mode(net: nn.Module, mode: str) -> nn.Module:
    """Put a generator in one of three inference modes; returns it.

    "eval": deterministic, BatchNorm uses its running statistics, no dropout (the reference's --eval).
    "dropout": as "eval" but Dropout layers stay active (the pix2pix paper's noise, BatchNorm frozen).
    "reference": everything in train mode, what the reference's test.py does without --eval:
    dropout active and BatchNorm normalising with the current batch's statistics (this also updates
    the in-memory running statistics, as the reference does; nothing is saved).
    """
    if mode not in TEST_MODES:
        raise ValueError(f"unknown test mode {mode!r} ({', '.join(TEST_MODES)})")
    net.train(mode == "reference")
    if mode == "dropout":
        for m in net.modules():
            if isinstance(m, nn.Dropout):
                m.train()
    return net
