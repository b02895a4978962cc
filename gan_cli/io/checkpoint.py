"""Checkpoints: .safetensors files whose metadata holds everything needed to rebuild the model.

Layout of a file:
- tensors: "<net>.<param>" for each network ("G.main.0.weight", "D.main.0.weight", ...), and in
  full checkpoints also "opt.<net>.<index>.<state>" (optimizer moments), "rng.*" (random states),
  "fixed_z"/"fixed_y" (the noise of the training sample grids);
- metadata["gan_cli"]: JSON with format, kind ("full" for resume, "generator" for sharing), family,
  options, size, channels, class_names, step, data, gan-cli version, the optimizers' param groups,
  the data cursor; metadata["family"] repeats the family for tools that only read flat keys.
Nothing is pickled; files are written atomically.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from gan_cli import __version__
from gan_cli.errors import BadInput
from gan_cli.io.atomic import atomic_path

FORMAT = "gan-cli/2"  # 2: the v2 family contract (fixed.*, data.cursor.<domain>, rng.*.<rank>, state.*)
FORMAT_VERSION = 2


def save(path: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    path = Path(path)
    meta = {"format": FORMAT, "version": __version__, **meta}
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(flat, str(tmp), metadata={"gan_cli": json.dumps(meta), "family": str(meta.get("family", ""))})
    return path


def _check_file(path: Path) -> None:
    if not path.exists():
        raise BadInput(f"{path}: no such checkpoint")
    if path.is_dir():
        raise BadInput(f"{path}: is a folder, expected a .safetensors checkpoint")
    if path.suffix.lower() in (".pt", ".pth", ".pkl", ".pdparams", ".ckpt"):
        raise BadInput(f"{path}: another project's checkpoint, not a gan-cli one: convert it first with "
                       f"`gan convert {path.name} OUT.safetensors`")
    # The safetensors header: 8-byte little-endian length, then that much JSON; the data must follow.
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise BadInput(f"{path}: not a safetensors file (too short: truncated or empty?)")
            (n,) = struct.unpack("<Q", head)
            if n > 100_000_000 or n + 8 > path.stat().st_size:
                raise BadInput(f"{path}: not a valid safetensors file (truncated or corrupt header)")
            header = json.loads(f.read(n))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: not a valid safetensors file ({e})") from None
    end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    if 8 + n + end > path.stat().st_size:
        raise BadInput(f"{path}: checkpoint is truncated ({path.stat().st_size} bytes, expected {8 + n + end})")


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The gan-cli metadata of a checkpoint, without reading its tensors."""
    path = Path(path)
    _check_file(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get("gan_cli")
    except Exception as e:  # safetensors raises its own error types
        raise BadInput(f"{path}: not a valid safetensors file ({e})") from None
    if raw is None:
        raise BadInput(f"{path}: a safetensors file, but not a gan-cli checkpoint (no gan_cli metadata)")
    try:
        meta = json.loads(raw)
    except ValueError:
        raise BadInput(f"{path}: gan-cli metadata is not valid JSON") from None
    if not isinstance(meta, dict) or not str(meta.get("format", "")).startswith("gan-cli/"):
        raise BadInput(f"{path}: unknown checkpoint format {meta.get('format') if isinstance(meta, dict) else meta!r}")
    version = str(meta["format"]).split("/", 1)[1]
    if not version.isdigit():
        raise BadInput(f"{path}: unknown checkpoint format {meta['format']!r}")
    if int(version) > FORMAT_VERSION:
        raise BadInput(
            f"{path}: written by a newer gan-cli (format {meta['format']}, this one reads up to "
            f"{FORMAT}); upgrade gan-cli"
        )
    return meta


def is_checkpoint(path: str | os.PathLike) -> bool:
    try:
        read_meta(path)
        return True
    except BadInput:
        return False


def load(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, metadata) of a gan-cli checkpoint; BadInput with a clear line if it is not one."""
    meta = read_meta(path)
    try:
        tensors = load_file(str(path), device=str(device))
    except Exception as e:
        raise BadInput(f"{path}: cannot read tensors ({e})") from None
    return tensors, meta


# --- modules and optimizers <-> flat tensor dicts --------------------------------------------------
def module_tensors(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in module.state_dict().items()}


def load_module(prefix: str, module: torch.nn.Module, tensors: dict[str, torch.Tensor], path: Any = "") -> None:
    """Load "<prefix>.*" tensors into `module`, strictly; a mismatch is a clear BadInput."""
    sub = {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    if not sub:
        raise BadInput(f"{path}: checkpoint has no weights for network {prefix!r}")
    try:
        module.load_state_dict(sub, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        detail = " ".join(line.strip() for line in first[1:3]) if len(first) > 1 else first[0]
        raise BadInput(f"{path}: weights do not fit the {prefix} network ({detail[:300]})") from None


def optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list]:
    """Flatten an optimizer: its per-parameter state as tensors, its param groups as JSON-able data."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for idx, state in sd["state"].items():
        for name, value in state.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{prefix}.{idx}.{name}"] = t
    return tensors, sd["param_groups"]


def load_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: list) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith(prefix + "."):
            idx, name = k[len(prefix) + 1 :].split(".", 1)
            state.setdefault(int(idx), {})[name] = v
    for g in groups:  # JSON turned tuples into lists
        for key, value in g.items():
            if isinstance(value, list) and key != "params":
                g[key] = tuple(value)
    opt.load_state_dict({"state": state, "param_groups": groups})
