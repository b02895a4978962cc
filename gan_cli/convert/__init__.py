"""Converters from other projects' checkpoint formats into gan-cli checkpoints (nothing is ever executed)."""

from __future__ import annotations

import hashlib
import pickle
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

import torch

from gan_cli.errors import BadInput


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pickle_head(path: Path, n: int = 1 << 20) -> bytes:
    """The first bytes of a torch file's pickle (inside the zip of torch >= 1.6, or at the start of older
    files), for cheap format sniffing by the names it holds; nothing is unpickled."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                name = next((x for x in z.namelist() if x.endswith("data.pkl")), None)
                return z.open(name).read(n) if name else b""
        with open(path, "rb") as f:
            return f.read(n)
    except (OSError, zipfile.BadZipFile):
        return b""


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A bare state dict saved with torch.save(net.state_dict()), read with weights_only=True (junyanz's and
    pytorch/examples' generators, minivision's face-recognition net); `module.` prefixes of a DataParallel
    wrapper are dropped."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # torch words every refusal the same way: tell objects from garbage
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        if not found:
            detail = re.search(r"WeightsUnpickler error:\s*(.+)", str(e))
            raise BadInput(f"{path}: not a readable PyTorch .pth file ({detail.group(1) if detail else e})") from None
        raise BadInput(
            f"{path}: not a plain state dict (it holds a {found.group(1)}): a whole pickled model is refused, since "
            "unpickling it could run arbitrary code; save net.state_dict() instead"
        ) from None
    except Exception as e:  # torch raises many kinds for a file that is not a torch.save archive
        raise BadInput(f"{path}: not a readable PyTorch .pth file ({type(e).__name__}: {e})") from None
    if not isinstance(obj, dict) or not obj:
        raise BadInput(f"{path}: holds a {type(obj).__name__}, not a state dict of tensors")
    if not all(isinstance(v, torch.Tensor) for v in obj.values()):
        top = ", ".join(sorted(map(str, obj))[:6])
        raise BadInput(f"{path}: a dict of {top} rather than one network's state dict (a training checkpoint?)")
    sd = {str(k): v for k, v in obj.items()}
    if all(k.startswith("module.") for k in sd):  # saved from a DataParallel wrapper
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    return sd


def check_state_dict(sd: dict[str, torch.Tensor], expected: dict[str, tuple[int, ...]], what: str,
                     optional: Iterable[str] = ()) -> None:
    """BadInput naming what is missing, left over or of the wrong shape (five of each at most) when `sd` is not
    a state dict of `expected`'s keys and shapes (keys in `optional` may be absent), or holds integer weights."""
    optional = set(optional)
    missing = [k for k in expected if k not in sd and k not in optional]
    extra = [k for k in sd if k not in expected]
    wrong = [
        f"{k} {tuple(sd[k].shape)} (expected {s})" for k, s in expected.items() if k in sd and tuple(sd[k].shape) != s
    ]
    problems = [
        f"{label}: {', '.join(items[:5])}" + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")
        for label, items in (("missing", missing), ("left over", extra), ("wrong shape", wrong))
        if items
    ]
    if problems:
        raise BadInput(f"{what}: " + "; ".join(problems))
    ints = [k for k, v in sd.items() if k not in optional and not v.is_floating_point()]
    if ints:
        raise BadInput(f"{what}: {ints[0]} has dtype {sd[ints[0]].dtype}; expected floating-point weights")
