"""The FID Inception-v3: TensorFlow's 2015-12-05 graph as pytorch-fid's `FIDInceptionV3` lays it out.

Written for gan-cli from the published architecture. Parameter names match pytorch-fid's state dict
("Conv2d_1a_3x3.conv.weight", "Mixed_5b.branch1x1.bn.running_mean", ...), so its .pth file and our
.safetensors copy both load. The quirks that make it the *FID* network, not torchvision's Inception:

- BatchNorm eps 0.001;
- the average pools inside the Mixed blocks ignore the zero padding (count_include_pad=False);
- the last block (Mixed_7c) pools its fourth branch with a max-pool, not an average;
- the input (N, 3, H, W) in [0, 1] is resized to 299x299 (bilinear, align_corners=False) and then
  mapped to [-1, 1]; the output is the 2048-d global average of the last block ("pool3").

`FIDInception.fused()` returns an inference version with each BatchNorm folded into its convolution,
channels-last memory and, on CPU, each conv+ReLU as one pre-packed oneDNN call: the same function
(features agree to ~1e-5), computed faster.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

FEATURE_DIMS = 2048
INPUT_SIZE = 299
BN_EPS = 0.001


class ConvBN(nn.Module):
    """Convolution without bias, BatchNorm (eps 0.001), ReLU; `fold()` merges the BatchNorm."""

    def __init__(self, cin: int, cout: int, kernel: int | tuple[int, int], stride: int = 1, padding=0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn: nn.Module = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.kernel: CpuConvReLU | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kernel is not None:
            return self.kernel(x)
        return F.relu(self.bn(self.conv(x)), inplace=True)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """self(avg_pool3x3(x)). Once folded, as relu(avg_pool(W x) + b): a 1x1 convolution commutes
        with the average pool, which then runs on the branch's few output channels, not the input's."""
        if not isinstance(self.bn, nn.Identity):
            return self(_avg3(x))
        z = self.kernel.linear(x) if self.kernel is not None else F.conv2d(x, self.conv.weight)
        return F.relu(_avg3(z).add_(self.conv.bias[:, None, None]), inplace=True)

    def fold(self) -> None:
        """Fold the (eval-mode) BatchNorm into the convolution's weight and a bias."""
        bn = self.bn
        if not isinstance(bn, nn.BatchNorm2d):
            return
        conv = self.conv
        with torch.no_grad():
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            weight = conv.weight * scale[:, None, None, None]
            bias = bn.bias - bn.running_mean * scale
        self.conv, self.bn = _conv_like(conv, weight, bias), nn.Identity()


def _conv_like(conv: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor) -> nn.Conv2d:
    """A Conv2d with `conv`'s geometry and the given weight and bias (no random initialisation)."""
    out = nn.Conv2d(
        conv.in_channels, weight.shape[0], conv.kernel_size, conv.stride, conv.padding, bias=True, device="meta"
    )
    out.weight = nn.Parameter(weight.detach(), requires_grad=False)
    out.bias = nn.Parameter(bias.detach(), requires_grad=False)
    return out


class CpuConvReLU:
    """conv + bias + ReLU in one oneDNN call, weights pre-packed on first use (CPU, float32).

    Uses the oneDNN operators that torch.compile's CPU backend emits (torch.ops.mkldnn); the
    arithmetic is the same as Conv2d followed by ReLU, without the extra pass over the output.
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        self.conv = conv
        self.args = (list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups)
        self.packed: torch.Tensor | None = None

    def _weight(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed is None:
            padding, stride, dilation, groups = self.args
            w = self.conv.weight.detach().to_mkldnn()
            self.packed = torch._C._nn.mkldnn_reorder_conv2d_weight(w, padding, stride, dilation, groups, list(x.shape))
        return self.packed

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        padding, stride, dilation, groups = self.args
        return _POINTWISE(x, self._weight(x), self.conv.bias, padding, stride, dilation, groups, "relu", [], "")

    def linear(self, x: torch.Tensor) -> torch.Tensor:
        """The convolution alone: no bias, no ReLU."""
        padding, stride, dilation, groups = self.args
        return _POINTWISE(x, self._weight(x), None, padding, stride, dilation, groups, "none", [], "")


_POINTWISE = None
_CPU_KERNELS_OK: bool | None = None


def cpu_kernels_available() -> bool:
    """Whether this torch build has the fused oneDNN conv+ReLU and it agrees with the plain ops."""
    global _POINTWISE, _CPU_KERNELS_OK
    if _CPU_KERNELS_OK is None:
        try:
            _POINTWISE = torch.ops.mkldnn._convolution_pointwise
            conv = nn.Conv2d(4, 6, 3, padding=1).eval()
            x = torch.rand(2, 4, 7, 7).contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                fast = CpuConvReLU(conv)(x)
                _CPU_KERNELS_OK = bool(torch.allclose(fast, F.relu(conv(x)), atol=1e-5))
        except Exception:  # missing operator, non-oneDNN build, ...: the plain ops are used
            _CPU_KERNELS_OK = False
    return _CPU_KERNELS_OK


def _avg3(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class MixedA(nn.Module):
    """35x35 block (Mixed_5b/5c/5d): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1."""

    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = ConvBN(cin, 64, 1)
        self.branch5x5_1 = ConvBN(cin, 48, 1)
        self.branch5x5_2 = ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, padding=1)
        self.branch_pool = ConvBN(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([b1, b5, b3, self.branch_pool.pooled(x)], 1)


class MixedB(nn.Module):
    """35->17 reduction (Mixed_6a): 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = ConvBN(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([b3, bd, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class MixedC(nn.Module):
    """17x17 block (Mixed_6b..6e) with factorised 7x7 convolutions."""

    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        row, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))
        self.branch1x1 = ConvBN(cin, 192, 1)
        self.branch7x7_1 = ConvBN(cin, c7, 1)
        self.branch7x7_2 = ConvBN(c7, c7, row[0], padding=row[1])
        self.branch7x7_3 = ConvBN(c7, 192, col[0], padding=col[1])
        self.branch7x7dbl_1 = ConvBN(cin, c7, 1)
        self.branch7x7dbl_2 = ConvBN(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_3 = ConvBN(c7, c7, row[0], padding=row[1])
        self.branch7x7dbl_4 = ConvBN(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_5 = ConvBN(c7, 192, row[0], padding=row[1])
        self.branch_pool = ConvBN(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = layer(bd)
        return torch.cat([b1, b7, bd, self.branch_pool.pooled(x)], 1)


class MixedD(nn.Module):
    """17->8 reduction (Mixed_7a)."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = ConvBN(cin, 192, 1)
        self.branch3x3_2 = ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvBN(cin, 192, 1)
        self.branch7x7x3_2 = ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = ConvBN(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class MixedE(nn.Module):
    """8x8 block (Mixed_7b with an average pool, Mixed_7c with the FID graph's max pool)."""

    def __init__(self, cin: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = ConvBN(cin, 320, 1)
        self.branch3x3_1 = ConvBN(cin, 384, 1)
        self.branch3x3_2a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = ConvBN(cin, 448, 1)
        self.branch3x3dbl_2 = ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = ConvBN(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        if self.max_pool:
            bp = self.branch_pool(F.max_pool2d(x, kernel_size=3, stride=1, padding=1))
        else:
            bp = self.branch_pool.pooled(x)
        return torch.cat([b1, b3, bd, bp], 1)


class FIDInception(nn.Module):
    """Inception-v3 up to pool3. Input (N, 3, H, W) in [0, 1]; output (N, 2048) float32 features.

    With `resize_input=False` the caller passes 299x299 images (used by --resize clean).
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)
        self.Mixed_5b = MixedA(192, 32)
        self.Mixed_5c = MixedA(256, 64)
        self.Mixed_5d = MixedA(288, 64)
        self.Mixed_6a = MixedB(288)
        self.Mixed_6b = MixedC(768, 128)
        self.Mixed_6c = MixedC(768, 160)
        self.Mixed_6d = MixedC(768, 160)
        self.Mixed_6e = MixedC(768, 192)
        self.Mixed_7a = MixedD(768)
        self.Mixed_7b = MixedE(1280, max_pool=False)
        self.Mixed_7c = MixedE(2048, max_pool=True)
        self.channels_last = False

    def forward(self, x: torch.Tensor, resize_input: bool = True) -> torch.Tensor:
        if resize_input:
            x = resize_bilinear(x)
        x = 2 * x - 1
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def fused(self, channels_last: bool = True, cpu_kernels: bool = False, inplace: bool = False) -> FIDInception:
        """An inference version: BatchNorms folded into the convolutions, eval mode, no autograd.

        `cpu_kernels`: run each conv+ReLU as one pre-packed oneDNN call (CPU only; needs channels_last).
        `inplace`: transform this network instead of a copy (saves a copy of the weights).
        """
        net = (self if inplace else copy.deepcopy(self)).eval()
        for m in net.modules():
            if isinstance(m, ConvBN):
                m.fold()
        net.requires_grad_(False)
        if channels_last:
            net = net.to(memory_format=torch.channels_last)
            net.channels_last = True
            if cpu_kernels and cpu_kernels_available():
                for m in net.modules():
                    if isinstance(m, ConvBN):
                        m.kernel = CpuConvReLU(m.conv)
        return net


def resize_bilinear(x: torch.Tensor) -> torch.Tensor:
    """pytorch-fid's input resize: bilinear to 299x299, align_corners=False, on [0, 1] floats."""
    return F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)


def expected_keys() -> set[str]:
    """The state-dict keys of the network (pytorch-fid's, less `fc` and `num_batches_tracked`)."""
    return {k for k in FIDInception().state_dict() if not k.endswith("num_batches_tracked")}
