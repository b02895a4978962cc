"""`gan train --init CKPT`: start a new run from another checkpoint's weights (fine-tuning).

Unlike `--resume`, which continues one run (optimizers, step, random states, data cursors), `--init`
takes only the networks: the new run has fresh optimizers, starts at step 0 and reads its own data.
This is photo2cartoon's "progressive training": a base model on every face, then one model per age group
fine-tuned from it, then one per age and gender.

What is loaded depends on the checkpoint:
- a full checkpoint (`checkpoints/step-*.safetensors`): every net the family builds (G, D, their EMA);
- a generator-only or converted checkpoint (`generator.safetensors`, `gan export`, `gan convert`): the
  inference nets it holds (G, or genA2B/genB2A); the others (D) keep their fresh initialisation.
An EMA net the checkpoint lacks starts as a copy of the net it averages, as at the start of any run.

The architecture must be the same: the family, its options (the checkpoint's, unless `-o` changes one
that keeps the shapes) and the channels. The image size may differ where the weights do not depend on
it (convolutional nets: pix2pix, CycleGAN, U-GAT-IT light); where they do (StyleGAN2's layer count,
DCGAN's first layer), the first tensor whose shape differs is named.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch

from gan_cli.errors import BadInput
from gan_cli.io import checkpoint as ckpt
from gan_cli.registry import Family, ema_name


def check_init_meta(path: Path, meta: dict, family: str) -> None:
    """Refuse a checkpoint of another family before anything is built."""
    if meta.get("family") != family:
        raise BadInput(
            f"--init {path}: a {meta.get('family')} checkpoint, not {family}; --init takes weights of the "
            "same family (only the data, and the size where the family allows it, may differ)"
        )


def check_init(path: Path, family: Family, ema_net: str | None) -> None:
    """Everything `load_init` would refuse, from the tensor shapes alone (nets built on the meta device):
    run before the run folder is made, so a refused --init leaves nothing behind."""
    from safetensors import safe_open

    meta = ckpt.read_meta(path)
    check_init_meta(path, meta, family.name)
    with safe_open(str(path), framework="pt") as f:
        shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    with torch.device("meta"):
        nets = dict(family.build())
    if ema_net is not None:
        nets[ema_name(ema_net)] = nets[ema_net]
    for name in _to_load(path, meta, shapes, nets):
        _check(path, name, {k: tuple(t.shape) for k, t in nets[name].state_dict().items()}, shapes, meta, family)


def load_init(path: Path, family: Family, ema_net: str | None) -> list[str]:
    """Copy the checkpoint's weights into `family.nets` (strictly, shapes checked); return the nets loaded.
    An EMA net the checkpoint lacks becomes a copy of the (loaded) net it averages."""
    tensors, meta = ckpt.load(path)
    check_init_meta(path, meta, family.name)
    loaded = _to_load(path, meta, tensors, family.nets)
    shapes = {k: tuple(v.shape) for k, v in tensors.items()}
    with torch.no_grad():
        for name in loaded:
            own = family.nets[name].state_dict()
            _check(path, name, {k: tuple(t.shape) for k, t in own.items()}, shapes, meta, family)
            for key, t in own.items():
                t.copy_(tensors[f"{name}.{key}"])
    avg = ema_name(ema_net) if ema_net is not None else None
    if avg is not None and avg not in loaded:
        family.nets[avg].load_state_dict(family.nets[ema_net].state_dict())
    return loaded


def _to_load(path: Path, meta: dict, keys: Iterable[str], nets: Iterable[str]) -> list[str]:
    """The nets the checkpoint holds: all of them in a full checkpoint, those present otherwise."""
    keys = list(keys)
    found = [n for n in nets if any(k.startswith(n + ".") for k in keys)]
    if meta.get("kind") == "full":
        missing = [n for n in nets if n not in found]
        if missing:
            raise BadInput(f"--init {path}: a full checkpoint without weights for {', '.join(missing)}")
    if not found:
        raise BadInput(f"--init {path}: holds none of the networks {', '.join(nets)}")
    return found


def _check(path: Path, name: str, own: dict, shapes: dict, meta: dict, family: Family) -> None:
    """A missing, extra or misshapen tensor of net `name` is named (the first one found)."""
    theirs = {k[len(name) + 1 :]: v for k, v in shapes.items() if k.startswith(name + ".")}
    for key, shape in own.items():
        if key not in theirs:
            raise BadInput(f"--init {path}: has no {name}.{key}; {_differs(meta, family)}")
        if theirs[key] != shape:
            raise BadInput(
                f"--init {path}: {name}.{key} is {list(theirs[key])} in the checkpoint but "
                f"{list(shape)} here; {_differs(meta, family)}"
            )
    extra = sorted(set(theirs) - set(own))
    if extra:
        raise BadInput(f"--init {path}: {name}.{extra[0]} has no place in this network; {_differs(meta, family)}")


def _differs(meta: dict, family: Family) -> str:
    """What makes the architectures differ, in the user's terms."""
    diffs = []
    if meta.get("size") != family.size:
        diffs.append(f"it was trained at {meta.get('size')} px, this run is at {family.size} px (drop --size)")
    if meta.get("channels") != family.channels:
        diffs.append(f"it has {meta.get('channels')} image channels, the data {family.channels}")
    theirs = meta.get("options") or {}
    changed = [k for k, v in vars(family.opts).items() if k in theirs and theirs[k] != v]
    if changed:
        diffs.append("-o " + ", ".join(f"{k}={getattr(family.opts, k)} (was {theirs[k]})" for k in changed))
    why = "; ".join(diffs) if diffs else "the networks differ"
    return f"--init needs the same architecture ({why})"
