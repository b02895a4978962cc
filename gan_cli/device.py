"""Device selection shared by every command: --device auto|cpu|cuda|cuda:N|mps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gan_cli.errors import BadInput

if TYPE_CHECKING:
    import torch

DEVICE_HELP = "auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps."


def resolve_device(name: str = "auto") -> torch.device:
    import torch

    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise BadInput(f"unknown device {name!r}: use {DEVICE_HELP}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BadInput("--device cuda asked for, but no CUDA GPU is available (try --device auto)")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise BadInput("--device mps asked for, but MPS is not available (try --device auto)")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise BadInput(f"unsupported device {name!r}: use {DEVICE_HELP}")
    return dev
