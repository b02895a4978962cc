"""The resampling and activation ops of StyleGAN2, as plain PyTorch calls that run fast on a CPU.

The official code (NVlabs, and rosinality's port) computes every FIR resampling with `upfirdn2d`:
on a CPU that is a pad / reshape / permute of the whole tensor, then a one-channel convolution over
batch*channels images, then (to downsample) a slice that throws away three quarters of what it just
computed. Here the same filters are depthwise convolutions that oneDNN runs directly:

- blur (stride 1, e.g. after a transposed conv): `conv2d(groups=C)` with the 2-D kernel and the
  upfirdn padding, which is symmetric for every StyleGAN2 layer;
- blur-then-subsample (the discriminator's 1x1 skip): the same depthwise conv with `stride=2`, so
  only the kept pixels are computed;
- 2x upsampling of the RGB skip (zero insertion, pad (2, 1), 4x4 filter): a depthwise
  `conv_transpose2d(stride=2, padding=1)`, exactly the same sums without the inserted zeros.

All kernels in this project are symmetric, so convolution and correlation agree; the flip that
upfirdn2d applies is kept anyway so a non-symmetric `blur_kernel` gives the same result as the reference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

SQRT2 = math.sqrt(2.0)


def make_kernel(k: Sequence[float], gain: float = 1.0) -> torch.Tensor:
    """2-D FIR kernel from 1-D taps (outer product), normalised to sum 1, times gain (rosinality's make_kernel)."""
    t = torch.tensor(k, dtype=torch.float32)
    t = t[None, :] * t[:, None] if t.ndim == 1 else t
    return t / t.sum() * gain


def _depthwise(kernel: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """kernel [kh, kw] -> [C, 1, kh, kw] flipped (upfirdn2d convolves), in x's dtype."""
    return kernel.flip([0, 1]).to(x.dtype).expand(x.shape[1], 1, *kernel.shape)


def blur(x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int], stride: int = 1) -> torch.Tensor:
    """upfirdn2d(x, kernel, up=1, down=stride, pad) for a [N, C, H, W] tensor, as one depthwise conv."""
    p0, p1 = pad
    w = _depthwise(kernel, x)
    if p0 != p1:
        x = F.pad(x, [p0, p1, p0, p1])
        p0 = 0
    return F.conv2d(x, w, stride=stride, padding=p0, groups=x.shape[1])


def upsample2x(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """upfirdn2d(x, kernel, up=2, pad=(p+1)//2+1, p//2) with p = len(kernel) - 2: rosinality's Upsample.

    kernel already carries the gain of 4. A zero-stuffed, padded convolution with a K-tap filter is a
    stride-2 transposed convolution with padding K - 1 - pad0 (= 1 for the 4-tap [1,3,3,1]).
    """
    k = kernel.shape[0]
    pad0 = (k - 2 + 1) // 2 + 1
    w = kernel.to(x.dtype).expand(x.shape[1], 1, *kernel.shape)  # transposed conv flips for us
    return F.conv_transpose2d(x, w, stride=2, padding=k - 1 - pad0, groups=x.shape[1])


def bias_leaky_relu(
    x: torch.Tensor, bias: torch.Tensor | None, gain: float = SQRT2, clamp: float | None = None
) -> torch.Tensor:
    """leaky_relu(x + bias, 0.2) * gain, then clamp to +-clamp (NVlabs' conv_clamp) when given.

    leaky_relu is positively homogeneous, so the gain is applied first and the activation in place.
    """
    out = x + bias.to(x.dtype).view(1, -1, *([1] * (x.ndim - 2))) if bias is not None else x.clone()
    out = F.leaky_relu(out.mul_(gain), 0.2, inplace=True)
    return out.clamp_(-clamp, clamp) if clamp is not None else out


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    style: torch.Tensor,
    demodulate: bool,
    up: bool = False,
    padding: int = 0,
) -> torch.Tensor:
    """StyleGAN2's modulated convolution without resampling filters (the caller blurs after `up`).

    x [N, I, H, W]; weight [O, I, k, k], already scaled (equalized lr); style [N, I].
    Stride-1 convs fold the batch into the groups of one grouped conv with per-sample weights
    (w * s, demodulated). The up conv instead scales x by s, runs one shared stride-2 transposed
    conv and multiplies by the demodulation coefficients: the same sums (modulation and
    demodulation are per input / per output channel), and oneDNN's grouped transposed conv is
    2-3x slower than the plain one on a CPU.
    """
    n, c_in, h, w_ = x.shape
    c_out, _, kh, kw = weight.shape
    wmod = weight.unsqueeze(0) * style.view(n, 1, c_in, 1, 1)  # [N, O, I, k, k]
    dcoef = (wmod.square().sum([2, 3, 4]) + 1e-8).rsqrt() if demodulate else None  # [N, O]
    if up:
        y = F.conv_transpose2d(x * style.to(x.dtype).view(n, c_in, 1, 1), weight.transpose(0, 1).to(x.dtype), stride=2)
        return y * dcoef.to(y.dtype).view(n, c_out, 1, 1) if dcoef is not None else y
    if dcoef is not None:
        wmod = wmod * dcoef.view(n, c_out, 1, 1, 1)
    if n == 1 or kh * kw > 1:
        wmod = wmod.reshape(n * c_out, c_in, kh, kw).to(x.dtype)
        y = F.conv2d(x.reshape(1, n * c_in, h, w_), wmod, padding=padding, groups=n)
        return y.view(n, c_out, *y.shape[2:])
    # 1x1 (ToRGB) with a batch: one matrix product per sample, batched
    y = torch.bmm(wmod.view(n, c_out, c_in).to(x.dtype), x.reshape(n, c_in, h * w_))
    return y.view(n, c_out, h, w_)
