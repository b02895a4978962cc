"""Read official U-GAT-IT and photo2cartoon checkpoints: one generator's tensors and the config to rebuild it.

Both projects save `torch.save({"genA2B": sd, "genB2A": sd, "disGA": sd, ...})`, a dict of state
dicts (znxlwm/UGATIT-pytorch `*_params_*.pt`; photo2cartoon's `photo2cartoon_weights.pt`, read in
its test.py as `params["genA2B"]`). Files are read with `torch.load(weights_only=True)`: plain
containers and tensors only, no pickled code runs. Nothing in the file says which network or size
it was trained with, so the config comes from the keys and shapes:

- family: hourglass keys (`HourGlass1.*`) mean photo2cartoon, `DownBlock.*` / `UpBlock1_*` U-GAT-IT;
- ngf and the channels from the first and last 7x7 convs; n_blocks from the `UpBlock1_<i>` count;
- light or not from `FC.0.weight`: its input is 4 ngf (light: the pooled features) or
  (img_size/4)^2 * 4 ngf (full: the whole map, which gives img_size). A light net does not fix its
  input size; it is recorded as the reference default, 256.

The generator is then built on the meta device (no memory) and its keys and shapes compared with
the file's: a missing, extra or misshapen tensor is an error, so every key is accounted for.
"""

from __future__ import annotations

import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_cli.convert import check_state_dict, sha256
from gan_cli.errors import BadInput
from gan_cli.nets import photo2cartoon, ugatit

GENERATORS = ("genA2B", "genB2A")
NETS = (*GENERATORS, "disGA", "disGB", "disLA", "disLB")
REFERENCE_IMG_SIZE = 256  # the references' default, recorded for light nets (which work at any size)


@dataclass
class Converted:
    family: str  # "ugatit" or "photo2cartoon"
    net_kwargs: dict[str, Any]  # JSON-able: the generator's constructor arguments
    tensors: dict[str, torch.Tensor]  # the generator's state dict, reference key names
    source: dict[str, Any]  # file, sha256, which generator, detected config, nets in the file


def convert_ugatit(path: Path, which: str = "genA2B") -> Converted:
    """The `which` generator ("genA2B" or "genB2A") of an official checkpoint, checked key by key."""
    path = Path(path)
    if which not in GENERATORS:
        raise BadInput(f"which generator: {which!r} is not one of {', '.join(GENERATORS)}")
    params = _load(path)
    sd = _pick(params, which, path)
    family, kwargs, detected = detect_config(sd, path)
    _check_against_net(sd, family, kwargs, path, which)
    source = {
        "file": str(path),
        "sha256": sha256(path),
        "which": which,
        "nets_in_file": [k for k in params if isinstance(params[k], dict)],
        "detected": detected,
    }
    tensors = {k: v.detach().contiguous() for k, v in sd.items()}
    return Converted(family=family, net_kwargs=kwargs, tensors=tensors, source=source)


def build_generator(converted: Converted) -> nn.Module:
    """The generator of `converted` with its weights loaded (strict), in eval mode."""
    cls = photo2cartoon.ResnetGenerator if converted.family == "photo2cartoon" else ugatit.ResnetGenerator
    net = cls(**converted.net_kwargs)
    net.load_state_dict(converted.tensors, strict=True)
    return net.eval()


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise BadInput(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    try:
        # mmap avoids a second copy of a multi-GB full-size checkpoint; only the zip format supports it.
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except Exception as e:  # any failure to unpickle (refused global, corrupt zip, text) means "not readable"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BadInput(f"{path}: not a readable PyTorch checkpoint ({first[:200]})") from None
    if not isinstance(obj, dict):
        raise BadInput(f"{path}: holds a {type(obj).__name__}, not a U-GAT-IT/photo2cartoon dict of networks")
    return obj


def _describe(obj: dict[str, Any]) -> str:
    keys = list(obj)
    shown = ", ".join(repr(k) for k in keys[:6]) + (f", ... ({len(keys)} keys)" if len(keys) > 6 else "")
    return shown or "nothing"


def _pick(params: dict[str, Any], which: str, path: Path) -> dict[str, torch.Tensor]:
    if which not in params:
        if any(k in params for k in NETS):
            raise BadInput(f"{path}: has no {which!r} (it holds {_describe(params)})")
        if params and all(isinstance(v, torch.Tensor) for v in params.values()):
            raise BadInput(
                f"{path}: a bare state dict ({_describe(params)}), not a U-GAT-IT/photo2cartoon checkpoint "
                f"(a dict with {', '.join(NETS)})"
            )
        raise BadInput(
            f"{path}: not a U-GAT-IT/photo2cartoon checkpoint: expected keys {', '.join(NETS)}, "
            f"found {_describe(params)}"
        )
    sd = params[which]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise BadInput(f"{path}: {which!r} is a {type(sd).__name__}, not a state dict of tensors")
    return sd


def _shape(sd: dict[str, torch.Tensor], key: str, ndim: int, path: Path) -> tuple[int, ...]:
    t = sd.get(key)
    if t is None or t.ndim != ndim:
        got = "missing" if t is None else f"shape {tuple(t.shape)}"
        raise BadInput(f"{path}: {key} is {got}; expected a {ndim}-d tensor")
    return tuple(t.shape)


def _fc_config(sd: dict[str, torch.Tensor], dim: int, path: Path) -> tuple[bool, int]:
    """(light, img_size) from FC.0.weight, (4 ngf, fc_in)."""
    out_f, fc_in = _shape(sd, "FC.0.weight", 2, path)
    if out_f != dim:
        raise BadInput(f"{path}: FC.0.weight is {out_f}x{fc_in}; expected {dim} outputs (4 ngf)")
    if fc_in == dim:
        return True, REFERENCE_IMG_SIZE
    side = math.isqrt(fc_in // dim)
    if fc_in % dim or side * side * dim != fc_in:
        raise BadInput(f"{path}: FC.0.weight input {fc_in} is neither 4 ngf={dim} nor (img_size/4)^2 * {dim}")
    return False, 4 * side


def detect_config(sd: dict[str, torch.Tensor], path: Path) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(family, constructor kwargs, what was read from which key) for a generator state dict."""
    if "ConvBlock1.1.weight" in sd and any(k.startswith("HourGlass1.") for k in sd):
        ngf, in_ch = _shape(sd, "ConvBlock1.1.weight", 4, path)[:2]
        if in_ch != 3:
            raise BadInput(f"{path}: ConvBlock1.1.weight has {in_ch} input channels; photo2cartoon takes RGB")
        light, img_size = _fc_config(sd, 4 * ngf, path)
        kwargs = {"ngf": ngf, "img_size": img_size, "light": light}
        detected = {**kwargs, "img_size_from": "FC.0.weight" if not light else "default (light)"}
        return "photo2cartoon", kwargs, detected
    if "DownBlock.1.weight" in sd and "UpBlock2.11.weight" in sd:
        ngf, input_nc = _shape(sd, "DownBlock.1.weight", 4, path)[:2]
        output_nc = _shape(sd, "UpBlock2.11.weight", 4, path)[0]
        n_blocks = len({m.group(1) for k in sd if (m := re.match(r"UpBlock1_(\d+)\.", k))})
        light, img_size = _fc_config(sd, 4 * ngf, path)
        kwargs = {
            "input_nc": input_nc, "output_nc": output_nc, "ngf": ngf,
            "n_blocks": n_blocks, "img_size": img_size, "light": light,
        }  # fmt: skip
        detected = {**kwargs, "img_size_from": "FC.0.weight" if not light else "default (light)"}
        return "ugatit", kwargs, detected
    raise BadInput(f"{path}: the generator is neither U-GAT-IT's nor photo2cartoon's (keys: {_describe(sd)})")


def _check_against_net(
    sd: dict[str, torch.Tensor], family: str, kwargs: dict[str, Any], path: Path, which: str
) -> None:
    cls = photo2cartoon.ResnetGenerator if family == "photo2cartoon" else ugatit.ResnetGenerator
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in cls(**kwargs).state_dict().items()}
    check_state_dict(sd, expected, f"{path}: {which} does not match a {family} generator {kwargs}")
