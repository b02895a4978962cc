"""Refuse a model whose parameters cannot fit in memory, before allocating any of it.

Option ranges keep typos out, but a valid combination can still be too large for the machine (DCGAN with
`-o ngf=1024` at 128 px has 2.8 billion parameters: 11 GB of weights). Allocating it first would swap
the machine to a halt or be killed by the OOM killer, with no clear message. So the family's networks
are built on PyTorch's `meta` device (shapes only, no memory, milliseconds), their parameters and
buffers counted, and the bytes compared with the memory the device has free.

Training needs more than the weights: each trainable parameter also has a gradient and the optimizer's
moments (Adam: two), so the estimate is 4x the parameter bytes, plus the buffers. Activations are not
counted: this check catches the impossible, not the merely tight.
"""

from __future__ import annotations

import torch

from gan_cli.errors import BadInput
from gan_cli.registry import Family

TRAINING_FACTOR = 4  # weight + gradient + two Adam moments per parameter


def model_size(family: Family) -> tuple[int, int, int]:
    """(parameters, parameter bytes, buffer bytes) of the family's networks, measured on the meta device."""
    probe = type(family)(family.opts, family.size, family.channels, family.num_classes, family.in_channels)
    with torch.device("meta"):
        nets = probe.build()
    params = [p for n in nets.values() for p in n.parameters()]
    buffers = sum(b.numel() * b.element_size() for n in nets.values() for b in n.buffers())
    return sum(p.numel() for p in params), sum(p.numel() * p.element_size() for p in params), buffers


def available_bytes(device: torch.device) -> int | None:
    """Free memory of the device (CPU: the kernel's MemAvailable), or None where it cannot be told."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_fits(family: Family, device: torch.device, training: bool) -> None:
    """BadInput if the family's networks (with gradients and optimizer state when training) exceed free memory."""
    count, params, buffers = model_size(family)
    need = params * (TRAINING_FACTOR if training else 1) + buffers
    free = available_bytes(device)
    if free is None or need <= free:
        return
    what = "training needs" if training else "its weights need"
    raise BadInput(
        f"{family.name} with these options at {family.size} px has {count / 1e9:.2f} billion parameters: "
        f"{what} about {_gb(need)}, and {device.type} has {_gb(free)} free; choose smaller widths with -o "
        f"(gan models --options)"
    )


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"
