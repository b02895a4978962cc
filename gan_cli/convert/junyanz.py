"""Read a junyanz pix2pix / CycleGAN generator checkpoint and work out which network it belongs to.

The reference saves bare state dicts (`latest_net_G.pth`, `latest_net_G_A.pth`, `<epoch>_net_G_B.pth`)
with no record of the options it was trained with, so everything the network needs is read off the
keys and shapes:
- U-Net if keys nest as `model.model.`; its depth (the deepest chain of `model` segments) gives
  num_downs, so unet_128 (7) and unet_256 (8); ResNet if `model.1.weight` is a 7x7 conv, with N
  blocks counted from the `model.<i>.conv_block.` prefixes;
- ngf and input channels from the first conv, output channels from the last one;
- norm: BatchNorm layers have a weight and running statistics; InstanceNorm (affine=False) has no
  parameters but gives the convolutions a bias; "none" has neither;
- dropout: visible for ResNets only (it shifts each block's second conv from index 5 to 6); a U-Net's
  dropout sits at the end of a block and leaves no trace, so it is assumed on (pix2pix's default).
Then the state dict is checked against the network built from those settings: every key must be
used and every shape must match, or the file is refused with the leftovers named.

As the reference's own loader does (`BaseModel.__patch_instance_norm_state_dict`), running_mean,
running_var and num_batches_tracked entries found on InstanceNorm layers are dropped: checkpoints
from PyTorch < 0.4, or from the 2018 code that built InstanceNorm with track_running_stats=True,
hold them, and the current reference ignores them.

Files are read with torch.load(weights_only=True): no pickled code ever runs. A file that is a
whole pickled model (torch.save(net)) is refused with a message saying so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_cli.convert import read_state_dict, sha256
from gan_cli.errors import BadInput
from gan_cli.nets.junyanz import build_generator

DIRECTIONS = ("AtoB", "BtoA")
_NORM_STATS = ("running_mean", "running_var", "num_batches_tracked")
_FILE_DIRECTION = re.compile(r"_net_G_([AB])\.pth$")


@dataclass
class Converted:
    family: str  # "pix2pix" for a U-Net, "cyclegan" for a ResNet, unless the caller says otherwise
    net_kwargs: dict[str, Any]  # build_generator(**net_kwargs): name, in_ch, out_ch, ngf, norm, use_dropout
    tensors: dict[str, torch.Tensor]  # the generator's state dict, the reference's key names, float32
    source: dict[str, Any]  # file, sha256, detected, direction, dropout ("checkpoint" | "assumed"), dropped_keys


def convert_junyanz(path: str | Path, direction: str | None = None, family: str | None = None) -> Converted:
    """The generator in a junyanz `*_net_G*.pth` file, its settings detected; BadInput if it is anything else.

    direction: "AtoB" or "BtoA"; by default taken from the file name (G_A maps A to B, G_B maps B
    to A), else None (a pix2pix G maps whatever side it was trained on: the file does not say).
    """
    path = Path(path)
    sd = read_state_dict(path)
    kwargs, dropout_seen = _detect(sd, path)
    tensors, dropped = _consume(sd, kwargs, path)
    return Converted(
        family=family or ("pix2pix" if kwargs["name"].startswith("unet") else "cyclegan"),
        net_kwargs=kwargs,
        tensors=tensors,
        source={
            "file": path.name,
            "sha256": sha256(path),
            "detected": _summary(kwargs),
            "direction": _direction(path, direction),
            "dropout": "checkpoint" if dropout_seen else "assumed",
            "dropped_keys": dropped,
        },
    )


def _detect(sd: dict[str, torch.Tensor], path: Path) -> tuple[dict[str, Any], bool]:
    """net_kwargs for build_generator, and whether use_dropout was read from the file (else assumed)."""
    first = sd.get("model.model.0.weight")
    last = sd.get("model.model.3.weight")
    if first is not None and last is not None and first.dim() == last.dim() == 4:  # U-Net
        downs = max(k.split(".").count("model") for k in sd) - 1
        norm = _norm(sd, "model.model.1.model.2", "model.model.0.bias")
        kwargs = dict(name=f"unet_{2**downs}", in_ch=first.shape[1], out_ch=last.shape[1], ngf=first.shape[0])
        return {**kwargs, "norm": norm, "use_dropout": True}, False
    stem = sd.get("model.1.weight")
    blocks = {int(m.group(1)) for k in sd if (m := re.match(r"model\.(\d+)\.conv_block\.", k))}
    if stem is not None and stem.dim() == 4 and tuple(stem.shape[2:]) == (7, 7):  # ResNet
        last_index = max(int(m.group(1)) for k in sd if (m := re.fullmatch(r"model\.(\d+)\.weight", k)))
        norm = _norm(sd, "model.2", "model.1.bias")
        out_ch = sd[f"model.{last_index}.weight"].shape[0]
        # the second conv of a block sits at index 6 with dropout, else 5 (and 6 is its BatchNorm, if any)
        dropout = any(re.fullmatch(r"model\.\d+\.conv_block\.6\.weight", k) and v.dim() == 4 for k, v in sd.items())
        kwargs = dict(name=f"resnet_{len(blocks)}blocks", in_ch=stem.shape[1], out_ch=out_ch, ngf=stem.shape[0])
        return {**kwargs, "norm": norm, "use_dropout": dropout}, True
    raise BadInput(f"{path}: {_describe(sd)}; give a generator file (*_net_G.pth, *_net_G_A.pth, *_net_G_B.pth)")


def _norm(sd: dict[str, torch.Tensor], norm_prefix: str, conv_bias: str) -> str:
    """batch if the first norm position holds an affine weight; else instance if the conv before it has a bias."""
    if f"{norm_prefix}.weight" in sd:
        return "batch"
    return "instance" if conv_bias in sd else "none"


def _describe(sd: dict[str, torch.Tensor]) -> str:
    """What a state dict that is no junyanz generator looks like, for the error message."""
    convs = [v for k, v in sd.items() if re.fullmatch(r"model\.\d+\.weight", k) and v.dim() == 4]
    if convs and convs[0].shape[2:] == (4, 4) and convs[-1].shape[0] == 1:
        n, first = len(convs) - 2, convs[0]
        return (
            f"looks like an NLayerDiscriminator (PatchGAN) with {n} layers, ndf {first.shape[0]}, "
            f"{first.shape[1]} input channels: a discriminator, not a generator"
        )
    if (w := sd.get("net.0.weight")) is not None and w.dim() == 4 and w.shape[2:] == (1, 1):
        return f"looks like a PixelDiscriminator (1x1 PatchGAN), ndf {w.shape[0]}: a discriminator, not a generator"
    if any(k.startswith(("mapping.", "synthesis.")) for k in sd):
        return "looks like a StyleGAN network (mapping/synthesis keys), not a pix2pix/CycleGAN generator"
    keys = ", ".join(list(sd)[:3])
    return f"not a pix2pix/CycleGAN generator ({len(sd)} tensors, first keys {keys})"


def _consume(sd: dict[str, torch.Tensor], kwargs: dict[str, Any], path: Path) -> tuple[dict[str, torch.Tensor], int]:
    """The state dict checked key by key against the detected network; instance-norm statistics dropped."""
    try:
        with torch.device("meta"):  # shapes only: nothing is allocated or initialised
            net = build_generator(**kwargs)
    except ValueError as e:
        raise BadInput(f"{path}: not a pix2pix/CycleGAN generator ({e})") from None
    modules = dict(net.named_modules())
    want = net.state_dict()
    out, leftovers, dropped = {}, [], 0
    for key, value in sd.items():
        owner, _, leaf = key.rpartition(".")
        if leaf in _NORM_STATS and isinstance(modules.get(owner), nn.InstanceNorm2d):
            dropped += 1
            continue
        if key not in want:
            leftovers.append(key)
            continue
        if value.shape != want[key].shape:
            raise BadInput(
                f"{path}: {key} has shape {tuple(value.shape)}, a {_summary(kwargs)} needs {tuple(want[key].shape)}"
            )
        out[key] = value.float() if value.is_floating_point() else value
    # checkpoints from before PyTorch 0.4.1 lack BatchNorm's counter (it only matters with momentum=None)
    for key in want:
        if key.endswith("num_batches_tracked") and key not in out and key.rpartition(".")[0] + ".running_mean" in out:
            out[key] = torch.tensor(0, dtype=torch.long)
    missing = [k for k in want if k not in out]
    if leftovers or missing:
        parts = [f"{len(leftovers)} unused keys (e.g. {leftovers[0]})"] if leftovers else []
        parts += [f"{len(missing)} missing (e.g. {missing[0]})"] if missing else []
        raise BadInput(f"{path}: does not match a {_summary(kwargs)}: {'; '.join(parts)}")
    return {k: out[k] for k in want}, dropped


def _summary(kwargs: dict[str, Any]) -> str:
    k = kwargs
    return f"{k['name']} generator ({k['norm']} norm, ngf {k['ngf']}, {k['in_ch']}->{k['out_ch']} channels)"


def _direction(path: Path, direction: str | None) -> str | None:
    if direction is not None and direction not in DIRECTIONS:
        raise BadInput(f"direction must be AtoB or BtoA, not {direction!r}")
    m = _FILE_DIRECTION.search(path.name)
    from_name = {"A": "AtoB", "B": "BtoA"}[m.group(1)] if m else None
    if direction and from_name and direction != from_name:
        other = "G_B" if m and m.group(1) == "A" else "G_A"
        raise BadInput(f"{path.name} maps {from_name[0]} to {from_name[-1]}; for {direction} give *_net_{other}.pth")
    return direction or from_name
