"""Full training state <-> one safetensors file: nets, optimizers, random states, data cursor, step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gan_cli.io import checkpoint as ckpt
from gan_cli.registry import Family


def model_meta(family: Family, cfg_dict: dict[str, Any], class_names: list[str], step: int, data: str) -> dict:
    """Metadata that lets any command rebuild the family's networks from the file alone."""
    return {
        "family": family.name,
        "task": family.task,
        "options": cfg_dict["options"],
        "size": family.size,
        "channels": family.channels,
        "num_classes": family.num_classes,
        "class_names": class_names,
        "step": step,
        "data": data,
    }


def save_full(
    path: Path,
    family: Family,
    opts: dict[str, torch.optim.Optimizer],
    extra: dict[str, torch.Tensor],
    meta: dict[str, Any],
) -> Path:
    tensors: dict[str, torch.Tensor] = {}
    for name, net in family.nets.items():
        tensors.update(ckpt.module_tensors(name, net))
    groups = {}
    for name, opt in opts.items():
        t, groups[name] = ckpt.optimizer_tensors(f"opt.{name}", opt)
        tensors.update(t)
    tensors.update(extra)
    return ckpt.save(path, tensors, {**meta, "kind": "full", "optimizers": groups})


def save_generator(path: Path, family: Family, meta: dict[str, Any]) -> Path:
    """Generator-only file for sharing (the EMA generator where the family keeps one)."""
    G = family.nets.get("G_ema", family.nets["G"])
    return ckpt.save(path, ckpt.module_tensors("G", G), {**meta, "kind": "generator"})


def restore_full(
    path: Path, family: Family, opts: dict[str, torch.optim.Optimizer], device: torch.device
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors, meta = ckpt.load(path)
    if meta.get("kind") != "full":
        raise ckpt.BadInput(f"{path}: a generator-only checkpoint cannot be resumed (it has no D or optimizer state)")
    for name, net in family.nets.items():
        ckpt.load_module(name, net, tensors, path)
    for name, opt in opts.items():
        ckpt.load_optimizer(f"opt.{name}", opt, tensors, meta["optimizers"][name])
    return tensors, meta
