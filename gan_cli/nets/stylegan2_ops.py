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
    x: torch.Tensor,
    bias: torch.Tensor | None,
    gain: float = SQRT2,
    clamp: float | None = None,
    scale: torch.Tensor | None = None,
    shift: torch.Tensor | None = None,
) -> torch.Tensor:
    """leaky_relu(x * scale + bias + shift, 0.2) * gain, clamped to +-clamp (NVlabs' conv_clamp) when given.

    scale ([N, C]: demodulation coefficients) and shift (weighted noise, [N or 1, 1, H, W]) are
    optional. leaky_relu is positively homogeneous, so the gain goes into scale, bias and shift:
    one multiply-add pass, one add for the noise, the activation in place, where the reference
    makes five or six passes. Bias and noise are added separately: a materialised [C, H, W] sum
    would be channels-first and slow to add to a channels-last x.
    """
    mul: torch.Tensor | float = gain
    if scale is not None:
        mul = (scale * gain).to(x.dtype).view(*scale.shape, *([1] * (x.ndim - 2)))
    if bias is None:
        out = x * mul
    else:
        b = (bias * gain).to(x.dtype).view(1, -1, *([1] * (x.ndim - 2)))
        out = torch.addcmul(b, x, mul) if isinstance(mul, torch.Tensor) else torch.add(b, x, alpha=mul)
    if shift is not None:
        out.add_(shift.to(x.dtype), alpha=gain)
    out = F.leaky_relu(out, 0.2, inplace=True)
    return out.clamp(-clamp, clamp) if clamp is not None else out


def modulated_conv2d(
    x: torch.Tensor, weight: torch.Tensor, style: torch.Tensor, demodulate: bool, up: bool = False, padding: int = 0
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """StyleGAN2's modulated convolution, without the resampling filter (the caller blurs after `up`).

    x [N, I, H, W]; weight [O, I, k, k], already scaled (equalized lr); style [N, I].
    Returns (y, dcoef): y still needs multiplying by the demodulation coefficients dcoef [N, O]
    (None when there is nothing left to apply), which the caller folds into its next pass.

    Demodulation: sum over (i, k) of (w[o,i,k] s[n,i])^2 = (s^2 @ sum_k w^2) — one small matrix
    product instead of building N modulated copies of the weight. With one sample the modulated
    weight goes straight into one conv (the reference's grouped conv with one group); with a batch,
    x is scaled by s and one conv with the shared weight serves the whole batch (the same sums:
    modulation is per input channel, demodulation per output channel). On a CPU that plain conv runs
    in channels-last and beats the reference's grouped conv (per-sample weights, batch folded into
    groups), which must stay channels-first; see benchmarks/bench_stylegan2.py.
    """
    n, c_in = x.shape[:2]
    c_out, _, kh, kw = weight.shape
    dcoef = (style.square() @ weight.square().sum([2, 3]).t() + 1e-8).rsqrt() if demodulate else None
    if kh == kw == 1 and not up:  # ToRGB: per-sample [O, I] matrices on the channels-last pixels, no pass over x
        wmod = weight.view(1, c_out, c_in) * style.view(n, 1, c_in)
        if dcoef is not None:
            wmod = wmod * dcoef.view(n, c_out, 1)
        h, w = x.shape[2:]
        pixels = x.permute(0, 2, 3, 1).reshape(n, h * w, c_in)  # a view when x is channels-last
        y = torch.bmm(pixels, wmod.transpose(1, 2).to(x.dtype))
        return y.view(n, h, w, c_out).permute(0, 3, 1, 2), None
    if n == 1 and not up:
        wmod = weight * style.view(1, c_in, 1, 1)
        if dcoef is not None:
            wmod = wmod * dcoef.view(c_out, 1, 1, 1)
        return F.conv2d(x, wmod.to(x.dtype), padding=padding), None
    x = x * style.to(x.dtype).view(n, c_in, 1, 1)
    w = weight.to(x.dtype)
    y = F.conv_transpose2d(x, w.transpose(0, 1), stride=2) if up else F.conv2d(x, w, padding=padding)
    return y, dcoef
