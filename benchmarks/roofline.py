"""The fp32 roofline the translation benchmarks report against, measured in the same run as the timings.

Why: a speed-up target over a plain loop only means something next to what the CPU can do at all. If the
plain loop already runs its convolutions at most of this CPU's fp32 convolution peak, no fp32 method can
be much faster (batching, threads and layouts only remove what is left); the ceiling below says how much.

- `flops_per_image`: PyTorch's own counter (torch.utils.flop_counter.FlopCounterMode) on one image;
- `conv_peak`: GFLOP/s of a big 3x3 convolution (256 -> 256 channels, 64 x 64, batch 4: the ResNet
  blocks' shape), contiguous and channels-last, best of a few repeats, at the current thread count;
- `ceiling`: peak / plain loop's achieved GFLOP/s, the most any fp32 method could give over the plain loop.

Used as a sibling module by bench_translate.py and bench_photo2cartoon.py (run as scripts, their folder is
on sys.path).
"""

from __future__ import annotations

import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def flops_per_image(net: nn.Module, size: int, channels: int = 3) -> float:
    """FLOPs (multiply and add counted apart) of one forward pass on one size x size image."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net(torch.zeros(1, channels, size, size))
    return float(counter.get_total_flops())


def conv_peak(repeats: int = 5) -> tuple[float, str]:
    """(GFLOP/s, layout) of the faster layout of a representative big fp32 3x3 convolution, best of `repeats`."""
    conv = nn.Conv2d(256, 256, 3, padding=1).eval()
    x = torch.randn(4, 256, 64, 64)
    flops = 2 * 256 * 256 * 9 * 64 * 64 * 4  # bias adds left out
    best: dict[str, float] = {}
    with torch.no_grad():
        for name, fmt in (("contiguous", torch.contiguous_format), ("channels-last", torch.channels_last)):
            c, xf = conv.to(memory_format=fmt), x.contiguous(memory_format=fmt)
            c(xf)
            seconds = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                c(xf)
                seconds.append(time.perf_counter() - t0)
            best[name] = flops / min(seconds) / 1e9
    layout = max(best, key=best.__getitem__)
    return best[layout], layout


def header(peak: float, layout: str) -> str:
    return (
        f"fp32 conv peak of this CPU, measured now: {peak:.0f} GFLOP/s ({layout}, 3x3 256->256 at 64 px, batch 4); "
        "ceiling = peak / the plain loop's GFLOP/s"
    )
