"""Read a DCGAN generator saved by pytorch/examples (dcgan/main.py) or the PyTorch DCGAN tutorial.

Both define the generator as one `nn.Sequential` named `main` and save `netG.state_dict()`: keys
`main.<i>.weight` for the transposed convolutions (bias=False) at i = 0, 3, 6, ..., and
`main.<i>.{weight,bias,running_mean,running_var,num_batches_tracked}` for the BatchNorm after each but
the last; ReLU and Tanh hold no tensors. gan-cli's DCGANGenerator (gan_cli/models/layers.py) is that same
stack with the same indices, so the keys map one to one onto `G.main.<i>.*`: only the settings have to
be read off the shapes. The first convolution's weight is (nz, ngf * 2^(L-1), 4, 4), the last one's
(ngf, nc, 4, 4), and L + 1 convolutions make 4 * 2^L pixels (64 px: five, as both sources have).

The state dict is then checked against the network built from those settings: every key used, every
shape right, or it is refused naming what it found. A discriminator file (netD.pth) is recognised and
named as such. Files are read with torch.load(weights_only=True): nothing pickled is executed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from gan_cli.convert import read_state_dict, sha256
from gan_cli.errors import BadInput
from gan_cli.models.layers import DCGANGenerator

_CONV = re.compile(r"main\.(\d+)\.weight")


def convert_dcgan(path: Path) -> tuple[dict[str, int], dict[str, torch.Tensor], dict[str, Any]]:
    """(settings: z_dim, ngf, channels, size; the tensors as G.main.*; the source record)."""
    sd = read_state_dict(path)
    if not any(k.startswith("main.") for k in sd):
        raise BadInput(f"{path}: no main.* keys: not a DCGAN generator of pytorch/examples or the tutorial")
    convs = sorted((int(m.group(1)), v) for k, v in sd.items() if (m := _CONV.fullmatch(k)) and v.dim() == 4)
    first = sd.get("main.0.weight")
    if first is not None and first.dim() == 4 and "main.1.weight" not in sd and "main.3.weight" in sd:
        raise BadInput(f"{path}: a DCGAN discriminator (netD): convert the generator file (netG) instead")
    if len(convs) < 2 or first is None or convs[0][0] != 0:
        found = ", ".join(f"{k} {tuple(v.shape)}" for k, v in list(sd.items())[:4])
        raise BadInput(f"{path}: not a DCGAN generator (found {found}, ...)")
    levels = len(convs) - 1
    settings = {
        "z_dim": first.shape[0],
        "ngf": convs[-1][1].shape[0],
        "channels": convs[-1][1].shape[1],
        "size": 4 * 2**levels,
    }
    tensors = {f"G.{k}": v.float() if v.is_floating_point() else v for k, v in sd.items()}
    _check(tensors, settings, path)
    source = {"format": "dcgan", "file": path.name, "sha256": sha256(path), "detected": summary(settings)}
    return settings, tensors, source


def summary(s: dict[str, int]) -> str:
    return f"DCGAN generator {s['size']} px, nz {s['z_dim']}, ngf {s['ngf']}, nc {s['channels']}"


def _check(tensors: dict[str, torch.Tensor], s: dict[str, int], path: Path) -> None:
    """Every key of gan-cli's generator present with its shape, and no other key (names the differences)."""
    if s["size"] not in (32, 64, 128) or s["channels"] not in (1, 3):
        raise BadInput(f"{path}: {summary(s)}: gan-cli's dcgan runs 32, 64 or 128 px with 1 or 3 channels")
    with torch.device("meta"):
        want = {
            f"G.{k}": v.shape
            for k, v in DCGANGenerator(s["z_dim"], s["channels"], s["size"], s["ngf"]).state_dict().items()
        }
    missing = sorted(set(want) - set(tensors))
    extra = sorted(set(tensors) - set(want))
    wrong = [
        f"{k[2:]} {tuple(tensors[k].shape)} (expected {tuple(want[k])})"
        for k in want
        if k in tensors and tensors[k].shape != want[k]
    ]
    if missing or extra or wrong:
        parts = [
            f"missing {', '.join(k[2:] for k in missing[:4])}" if missing else "",
            f"unexpected {', '.join(k[2:] for k in extra[:4])}" if extra else "",
            f"wrong shapes {', '.join(wrong[:3])}" if wrong else "",
        ]
        raise BadInput(f"{path}: does not fit a {summary(s)}: {'; '.join(p for p in parts if p)}")
