"""U-GAT-IT networks (Kim et al., ICLR 2020), laid out so the official PyTorch checkpoints load as they are.

The state-dict keys are the contract with the released `*_params_*.pt` files of znxlwm/UGATIT-pytorch,
so module names and `nn.Sequential` positions (parameter-free pads and ReLUs included) follow its
`networks.py`: `DownBlock.1.weight`, `gap_fc.weight`, `FC.0.weight`, `UpBlock1_3.norm2.rho`, `UpBlock2.3.rho`,
`model.1.weight_orig` ... Their numerics follow it too, quirks included:

- normalisations use the *unbiased* variance (`torch.var`'s default), eps 1e-5 inside the square root;
  instance-layer norm mixes the two normalised maps with `rho` (not their statistics);
- the attention map (CAM) multiplies the features by the raw weights of the `gap_fc`/`gmp_fc`
  classifiers; in the discriminator these are spectral-normed and the map uses `weight_orig`, the
  weight *before* normalisation (what `list(fc.parameters())[0]` gives there), while the logits use
  the normalised one;
- `rho` (the instance/layer-norm mix) is kept in [0, 1] by the training code after every step, not
  by the layer: `clip_rho_`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-5


def _normalise(x: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    # Unbiased variance, mean and variance computed apart (torch.var_mean differs in the last bits):
    # as the reference, so outputs are bit-identical to it on the same machine.
    mean, var = x.mean(dims, keepdim=True), x.var(dims, keepdim=True)
    return (x - mean) / torch.sqrt(var + EPS)


def mix_instance_layer_norm(x: torch.Tensor, rho: torch.Tensor) -> torch.Tensor:
    """rho * InstanceNorm(x) + (1 - rho) * LayerNorm(x), no affine; rho is (1, C, 1, 1)."""
    return rho * _normalise(x, (2, 3)) + (1 - rho) * _normalise(x, (1, 2, 3))


class AdaILN(nn.Module):
    """Adaptive instance-layer norm: the affine gamma, beta (N, C) come from the attention branch."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.rho = nn.Parameter(torch.full((1, channels, 1, 1), 0.9))

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        return mix_instance_layer_norm(x, self.rho) * gamma[:, :, None, None] + beta[:, :, None, None]


class ILN(nn.Module):
    """Instance-layer norm with learned per-channel rho, gamma, beta (the decoder's up-sampling stages)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.rho = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.gamma = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return mix_instance_layer_norm(x, self.rho) * self.gamma + self.beta


def clip_rho_(module: nn.Module, lo: float = 0.0, hi: float = 1.0) -> None:
    """Clamp every `rho` under `module` into [lo, hi] in place: the reference's RhoClipper(0, 1),
    which its training loop applies to both generators after each generator step."""
    with torch.no_grad():
        for m in module.modules():
            rho = getattr(m, "rho", None)
            if isinstance(rho, torch.Tensor):
                rho.clamp_(lo, hi)


def pad_conv(cin: int, cout: int, kernel: int, stride: int = 1, bias: bool = False) -> list[nn.Module]:
    """Reflection padding of kernel // 2, then an unpadded conv: two Sequential entries."""
    return [nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride, 0, bias=bias)]


class ResnetBlock(nn.Module):
    """x + (pad, conv3x3, IN, ReLU, pad, conv3x3, IN)(x): the encoder's bottleneck."""

    def __init__(self, dim: int, bias: bool = False) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            *pad_conv(dim, dim, 3, bias=bias), nn.InstanceNorm2d(dim), nn.ReLU(True),
            *pad_conv(dim, dim, 3, bias=bias), nn.InstanceNorm2d(dim),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetAdaILNBlock(nn.Module):
    """The decoder's bottleneck: a residual block whose two norms are AdaILN with shared gamma, beta."""

    def __init__(self, dim: int, bias: bool = False) -> None:
        super().__init__()
        self.pad = nn.ReflectionPad2d(1)
        self.conv1 = nn.Conv2d(dim, dim, 3, 1, 0, bias=bias)
        self.norm1 = AdaILN(dim)
        self.conv2 = nn.Conv2d(dim, dim, 3, 1, 0, bias=bias)
        self.norm2 = AdaILN(dim)

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm1(self.conv1(self.pad(x)), gamma, beta))
        return x + self.norm2(self.conv2(self.pad(h)), gamma, beta)


def class_activation(
    x: torch.Tensor, gap_fc: nn.Linear, gmp_fc: nn.Linear, gap_w: torch.Tensor, gmp_w: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(features weighted by the CAM weights, both pooled branches concatenated: (N, 2C, H, W),
    cam_logit (N, 2)). The logits say "source or target domain?" from the average- and max-pooled
    features; the classifiers' weights (1, C) then rescale the channels as attention."""
    gap_logit = gap_fc(F.adaptive_avg_pool2d(x, 1).flatten(1))
    gmp_logit = gmp_fc(F.adaptive_max_pool2d(x, 1).flatten(1))
    weighted = torch.cat([x * gap_w.view(1, -1, 1, 1), x * gmp_w.view(1, -1, 1, 1)], 1)
    return weighted, torch.cat([gap_logit, gmp_logit], 1)


class ResnetGenerator(nn.Module):
    """image (N, input_nc, S, S) in [-1, 1] -> (image (N, output_nc, S, S) in [-1, 1], cam_logit (N, 2),
    heatmap (N, 1, S/4, S/4)).

    Encoder: 7x7 conv, two stride-2 convs (ngf -> 4 ngf channels), n_blocks residual blocks. CAM
    attention and a 1x1 conv; an MLP (`FC`) on the attended features gives AdaILN's gamma and beta:
    it reads the whole (S/4)^2 * 4 ngf map (so `img_size` fixes its input size), or with `light`
    only its global average (any S divisible by 4 works). Decoder: n_blocks AdaILN residual blocks,
    two nearest-upsample + conv + ILN stages, a 7x7 conv and Tanh.
    """

    def __init__(
        self, input_nc: int, output_nc: int, ngf: int = 64, n_blocks: int = 6, img_size: int = 256, light: bool = False
    ) -> None:
        super().__init__()
        if n_blocks < 0 or ngf < 1 or img_size % 4:
            raise ValueError(
                f"need n_blocks >= 0, ngf >= 1, img_size divisible by 4 (got {n_blocks}, {ngf}, {img_size})"
            )
        self.n_blocks, self.light = n_blocks, light
        dim = ngf * 4  # bottleneck width after two down-samplings
        # Registration order below reproduces the reference's state-dict key order.
        self.gap_fc = nn.Linear(dim, 1, bias=False)
        self.gmp_fc = nn.Linear(dim, 1, bias=False)
        self.conv1x1 = nn.Conv2d(2 * dim, dim, 1, 1, bias=True)
        self.gamma = nn.Linear(dim, dim, bias=False)
        self.beta = nn.Linear(dim, dim, bias=False)
        for i in range(1, n_blocks + 1):
            setattr(self, f"UpBlock1_{i}", ResnetAdaILNBlock(dim))

        down: list[nn.Module] = [*pad_conv(input_nc, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
        for c in (ngf, 2 * ngf):
            down += [*pad_conv(c, 2 * c, 3, stride=2), nn.InstanceNorm2d(2 * c), nn.ReLU(True)]
        down += [ResnetBlock(dim) for _ in range(n_blocks)]
        self.DownBlock = nn.Sequential(*down)

        fc_in = dim if light else (img_size // 4) ** 2 * dim
        self.FC = nn.Sequential(
            nn.Linear(fc_in, dim, bias=False), nn.ReLU(True), nn.Linear(dim, dim, bias=False), nn.ReLU(True)
        )
        up: list[nn.Module] = []
        for c in (dim, dim // 2):
            up += [nn.Upsample(scale_factor=2, mode="nearest"), *pad_conv(c, c // 2, 3), ILN(c // 2), nn.ReLU(True)]
        self.UpBlock2 = nn.Sequential(*up, *pad_conv(ngf, output_nc, 7), nn.Tanh())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.DownBlock(x)
        x, cam_logit = class_activation(x, self.gap_fc, self.gmp_fc, self.gap_fc.weight, self.gmp_fc.weight)
        x = F.relu(self.conv1x1(x))
        heatmap = x.sum(1, keepdim=True)
        style = self.FC(F.adaptive_avg_pool2d(x, 1).flatten(1) if self.light else x.flatten(1))
        gamma, beta = self.gamma(style), self.beta(style)
        for i in range(1, self.n_blocks + 1):
            x = getattr(self, f"UpBlock1_{i}")(x, gamma, beta)
        return self.UpBlock2(x), cam_logit, heatmap


def _sn(module: nn.Module) -> nn.Module:
    # torch.nn.utils.spectral_norm (not the newer parametrization) because its `weight_orig`,
    # `weight_u`, `weight_v` keys are what the checkpoints hold.
    return nn.utils.spectral_norm(module)


class Discriminator(nn.Module):
    """image (N, input_nc, S, S) -> (patch logits (N, 1, S/2^(n_layers-2) - 2, ...), cam_logit (N, 2),
    heatmap (N, 1, h, w)).

    n_layers - 2 stride-2 4x4 convs (ndf doubling each time), one stride-1 4x4 conv, CAM attention
    and a 1x1 conv, then a 4x4 conv to one channel; spectral norm on every conv and CAM classifier,
    LeakyReLU(0.2). U-GAT-IT uses n_layers=7 (global, needs S >= 96) and 5 (local, S >= 24).
    """

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 5) -> None:
        super().__init__()
        if n_layers < 3:
            raise ValueError(f"n_layers must be >= 3, not {n_layers}")
        dim = ndf * 2 ** (n_layers - 2)
        self.gap_fc = _sn(nn.Linear(dim, 1, bias=False))
        self.gmp_fc = _sn(nn.Linear(dim, 1, bias=False))
        self.conv1x1 = nn.Conv2d(2 * dim, dim, 1, 1, bias=True)
        self.pad = nn.ReflectionPad2d(1)
        self.conv = _sn(nn.Conv2d(dim, 1, 4, 1, 0, bias=False))

        widths = [input_nc] + [ndf * 2**i for i in range(n_layers - 1)]  # the last is dim
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            stride = 1 if i == len(widths) - 2 else 2
            layers += [nn.ReflectionPad2d(1), _sn(nn.Conv2d(a, b, 4, stride, 0, bias=True)), nn.LeakyReLU(0.2, True)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.model(x)
        x, cam_logit = class_activation(x, self.gap_fc, self.gmp_fc, self.gap_fc.weight_orig, self.gmp_fc.weight_orig)
        x = F.leaky_relu(self.conv1x1(x), 0.2)
        heatmap = x.sum(1, keepdim=True)
        return self.conv(self.pad(x)), cam_logit, heatmap
