"""Mixed precision for --amp: bf16 autocast (fp16 with a grad scaler on GPUs without bf16), or none."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch


def cpu_bf16_native() -> bool:
    """Whether this CPU has bf16 dot-product instructions (AVX512-BF16 or AMX).

    There bf16 autocast trains DCGAN 1.6x faster than fp32 with the same sample quality
    (benchmarks/bench_train_dcgan.py; FID check in the README); elsewhere bf16 is emulated and slower.
    """
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        probe = getattr(torch.cpu, name, None)
        try:
            if probe is not None and probe():
                return True
        except RuntimeError:
            pass
    return False


def autocast(amp: str, device: torch.device) -> tuple[Callable[[], contextlib.AbstractContextManager], Any]:
    """(autocast context factory, GradScaler or None) for --amp: auto is on for CUDA and bf16 CPUs."""
    native = device.type == "cuda" or (device.type == "cpu" and cpu_bf16_native())
    on = amp == "on" or (amp == "auto" and native)
    if not on or device.type == "mps":
        return contextlib.nullcontext, None
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return (lambda: torch.autocast("cuda", dtype=torch.float16)), torch.amp.GradScaler("cuda")
    return (lambda: torch.autocast(device.type, dtype=torch.bfloat16)), None
