"""Full training state <-> one safetensors file, and the generator-only file for sharing.

A full checkpoint holds every net (EMA averages included) as "<net>.<param>", every optimizer as
"opt.<key>.<index>.<state>" (param groups in the metadata), the family's state as "state.<key>", the data
cursors as "data.cursor.<domain>", the random states of every torchrun rank as "rng.<which>.<rank>", and the
fixed preview inputs as "fixed.<key>". Restoring checks that everything the family and its optimizers
expect is there with the right shapes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from gan_cli.errors import BadInput, RuntimeFailure
from gan_cli.io import checkpoint as ckpt
from gan_cli.registry import Family, inference_prefix


def model_meta(family: Family, options: dict[str, Any], class_names: list[str], step: int, data: str) -> dict:
    """Metadata that lets any command rebuild the family's networks from the file alone."""
    return {
        "family": family.name,
        "task": family.task,
        "options": options,
        "size": family.size,
        "channels": family.channels,
        "in_channels": family.in_channels,
        "num_classes": family.num_classes,
        "class_names": class_names,
        "step": step,
        "data": data,
    }


def check_finite(family: Family) -> None:
    """Refuse to write weights that are NaN or infinite (a diverged run): name the first bad tensor."""
    for name, net in family.nets.items():
        for key, t in net.state_dict().items():
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                raise RuntimeFailure(f"{name}.{key} holds NaN or inf values")


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
    groups, counts = {}, {}
    for key, opt in opts.items():
        t, groups[key] = ckpt.optimizer_tensors(f"opt.{key}", opt)
        counts[key] = len(t)
        tensors.update(t)
    tensors.update({f"state.{k}": v for k, v in family.state.items()})
    tensors.update(extra)
    meta = {**meta, "kind": "full", "optimizers": groups, "optimizer_tensors": counts, "state": sorted(family.state)}
    return ckpt.save(path, tensors, meta)


def save_generator(path: Path, family: Family, meta: dict[str, Any]) -> Path:
    """Generator-only file for sharing: the inference nets (their EMA averages where kept), nothing else."""
    tensors: dict[str, torch.Tensor] = {}
    for name, net in family.inference_nets().items():
        tensors.update(ckpt.module_tensors(name, net))
    return ckpt.save(path, tensors, {**meta, "kind": "generator"})


def generator_tensors(tensors: dict[str, torch.Tensor], names: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The inference nets' tensors of a checkpoint, renamed from their EMA prefix where there is one."""
    out: dict[str, torch.Tensor] = {}
    for name in names:
        prefix = inference_prefix(name, tensors)
        out.update({name + k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix + ".")})
    return out


def restore_full(
    path: Path, family: Family, opts: dict[str, torch.optim.Optimizer]
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load nets, optimizers and family state; return the remaining tensors (rng, cursors, fixed) and meta."""
    tensors, meta = ckpt.load(path)
    if meta.get("kind") != "full":
        raise BadInput(f"{path}: a generator-only checkpoint cannot be resumed (it has no D or optimizer state)")
    _upgrade_v1(tensors, meta)
    step = meta.get("step")
    if not isinstance(step, int) or step < 0:
        raise BadInput(f"{path}: metadata step {step!r} is not a step count")
    for name, net in family.nets.items():
        ckpt.load_module(name, net, tensors, path)
    counts = meta.get("optimizer_tensors")
    if not isinstance(counts, dict) and meta.get("format") != "gan-cli/1":  # every later format records them
        raise BadInput(f"{path}: metadata has no optimizer_tensors record (damaged)")
    for key, opt in opts.items():
        if key not in meta.get("optimizers", {}):
            raise BadInput(f"{path}: has no state for optimizer {key!r}")
        found = sum(k.startswith(f"opt.{key}.") for k in tensors)
        if counts is not None and found != counts.get(key):
            saved = counts.get(key)
            raise BadInput(f"{path}: optimizer {key!r} has {found} state tensors, {saved} were saved (damaged)")
        ckpt.load_optimizer(f"opt.{key}", opt, tensors, meta["optimizers"][key])
        _check_optimizer_state(opt, path, key, step)
    for k in family.state:
        if f"state.{k}" not in tensors:
            raise BadInput(f"{path}: has no family state {k!r}")
        family.state[k] = tensors[f"state.{k}"]
    return tensors, meta


def _check_optimizer_state(opt: torch.optim.Optimizer, path: Path, key: str, step: int) -> None:
    """Every parameter's state holds the same entries (Adam: step, exp_avg, exp_avg_sq) with its shape; after
    a step, an optimizer that keeps state has some."""
    names = {frozenset(s) for s in opt.state.values()}
    if len(names) > 1:
        raise BadInput(f"{path}: optimizer {key!r} state differs between parameters ({sorted(map(sorted, names))})")
    if step > 0 and not opt.state and _keeps_state(opt):
        raise BadInput(f"{path}: optimizer {key!r} has no state at step {step} (its tensors were removed?)")
    for group in opt.param_groups:
        for p in group["params"]:
            for name, t in opt.state.get(p, {}).items():
                if torch.is_tensor(t) and t.dim() > 0 and t.shape != p.shape:
                    raise BadInput(
                        f"{path}: optimizer {key!r} state {name} has shape {tuple(t.shape)}, "
                        f"its parameter {tuple(p.shape)}"
                    )
            if not math.isfinite(float(group.get("lr", 0.0))):
                raise BadInput(f"{path}: optimizer {key!r} has a non-finite learning rate")


def _keeps_state(opt: torch.optim.Optimizer) -> bool:
    """Whether a step leaves per-parameter state (Adam, RMSprop: yes; plain SGD: no)."""
    return not isinstance(opt, torch.optim.SGD) or any(g.get("momentum", 0) for g in opt.param_groups)


def _upgrade_v1(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Checkpoints of format gan-cli/1 (gan-cli 0.1 before the v2 contract) named a few tensors differently."""
    for old, new in (
        ("fixed_z", "fixed.z"),
        ("fixed_y", "fixed.y"),
        ("data.cursor", "data.cursor.x"),
        ("rng.torch", "rng.torch.0"),
        ("rng.cuda", "rng.cuda.0"),
    ):
        if old in tensors and new not in tensors:
            tensors[new] = tensors.pop(old)
    meta.setdefault("seen", meta.get("step", 0) * meta.get("train", {}).get("batch_size", 0))
