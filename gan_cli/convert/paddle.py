"""Read PaddleGAN `.pdparams` weights: StyleGANv2Generator, ResnetUGATITP2CGenerator, ResnetUGATITGenerator.

A `.pdparams` file is what `paddle.save(layer.state_dict())` writes: a pickle of a dict of numpy arrays
(plus `StructuredToParameterName@@`, a dict of Paddle's internal parameter names). It is read with
`PdparamsUnpickler`, whose `find_class` answers only what rebuilds numpy arrays and plain containers,
each through a checking stand-in (no object dtypes); anything else (`os.system`, `builtins.eval`, ...)
is refused with BadInput before it is called.

The nets are read into the layouts gan-cli already loads, so they run on the same code:
- Paddle's `nn.Linear` stores its weight as [in, out], the transpose of torch's [out, in]: every 2-D
  `*.weight` of these three generators is a Linear (convs are 4-D, StyleGAN2's modulated convs 5-D,
  the Soft-AdaLIN blends `w_gamma` / `w_beta` are not named `weight`), and each is transposed;
- StyleGANv2Generator (ppgan/models/generators/generator_styleganv2.py, ported from rosinality) keeps
  rosinality's names; its blur kernels are non-persistable buffers (not in the file), so they are
  filled from gan-cli's generator, where they are fixed constants;
- ResnetUGATITGenerator keeps U-GAT-IT's names (biases off, as znxlwm's);
- ResnetUGATITP2CGenerator is photo2cartoon's net in other names: `DownBlock` / `UpBlock` Sequentials
  instead of minivision's `ConvBlock1`, `HourGlass1..4`, `DownBlock1/2`, `UpBlock1/2`, `ConvBlock2`;
  hourglass units `ConvBlockskip{l}` / `ConvBlock{l}` (l <= 4) for `ConvBlock{l}_1` / `ConvBlock{l}_2`;
  `conv_block{i}` / `conv_skip` for `ConvBlock{i}` / `ConvBlock4`. Its Linears have no bias and its
  units no unused skip projection: those minivision tensors are written as zeros (adding nothing).
"""

from __future__ import annotations

import pickle
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan_cli.convert import sha256
from gan_cli.convert import stylegan2 as sg2
from gan_cli.convert import ugatit as ug
from gan_cli.convert.unpickle import RestrictedUnpickler, latin1
from gan_cli.errors import BadInput
from gan_cli.nets.stylegan2 import Generator

NAME_TABLE = "StructuredToParameterName@@"
BIG_PARAMS = "UnpackBigParamInfor@@"  # arrays over 4 GB split in slices: none of these nets has one


class _NotCallable:
    """Stands for numpy.ndarray as the class argument of _reconstruct; calling it directly is refused."""

    def __call__(self, *args: Any) -> Any:
        raise BadInput("refusing to load the .pdparams: it calls numpy.ndarray directly")


_NDARRAY = _NotCallable()


def _plain_dtype(dtype: Any) -> np.dtype:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise BadInput("refusing to load the .pdparams: an array that is not of plain numbers")
    return dtype


class _Array:
    """numpy's `_reconstruct(ndarray, (0,), b'b')` stand-in: the pickle's BUILD gives it the array's state."""

    def __init__(self, cls: Any, shape: Any, typecode: Any) -> None:
        if cls is not _NDARRAY:
            raise BadInput("refusing to load the .pdparams: _reconstruct of something other than numpy.ndarray")
        self.array: np.ndarray | None = None

    def __setstate__(self, state: tuple) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise BadInput("a numpy array in the .pdparams has an unknown state")
        shape, dtype, fortran, raw = state[-4:]
        if not isinstance(raw, (bytes, bytearray)):
            raise BadInput("refusing to load the .pdparams: an array that is not of plain numbers")
        flat = np.frombuffer(raw, dtype=_plain_dtype(dtype))
        self.array = flat.reshape(tuple(shape), order="F" if fortran else "C").copy()


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:  # numpy's protocol-5 form
    if not isinstance(buf, (bytes, bytearray, pickle.PickleBuffer)):
        raise BadInput("refusing to load the .pdparams: an array buffer that is not bytes")
    return np.frombuffer(buf, dtype=_plain_dtype(dtype)).reshape(tuple(shape), order=order).copy()


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _Array,
    ("numpy._core.multiarray", "_reconstruct"): _Array,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("collections", "OrderedDict"): OrderedDict,
    ("_codecs", "encode"): latin1,
}


class PdparamsUnpickler(RestrictedUnpickler):
    allowed = _ALLOWED
    what = ".pdparams"
    content = "a dict of numpy arrays"


def load_pdparams(path: Path) -> dict[str, torch.Tensor]:
    """The state dict of a .pdparams file as float32 torch tensors (Paddle's name table dropped)."""
    try:
        with open(path, "rb") as f:
            obj = PdparamsUnpickler(f).load()
    except BadInput:
        raise
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror or e}") from None
    except Exception as e:  # truncated or corrupt data: pickle raises many kinds
        raise BadInput(f"{path} is not a readable .pdparams file ({type(e).__name__}: {e})") from None
    if not isinstance(obj, dict):
        raise BadInput(f"{path}: holds a {type(obj).__name__}, not a state dict")
    if BIG_PARAMS in obj:
        raise BadInput(f"{path}: holds arrays split for size (over 4 GB); not a generator gan-cli reads")
    out = {}
    for key, value in obj.items():
        if key == NAME_TABLE:
            continue
        arr = value.array if isinstance(value, _Array) else value
        if not isinstance(arr, np.ndarray) or not np.issubdtype(arr.dtype, np.floating):
            raise BadInput(f"{path}: {key!r} is not an array of floating-point weights")
        out[str(key)] = torch.from_numpy(arr.astype(np.float32))
    return out


def _linear_to_torch(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Paddle Linear weights [in, out] -> torch [out, in] (every 2-D `*.weight` of these nets)."""
    return {k: v.t().contiguous() if k.endswith(".weight") and v.ndim == 2 else v for k, v in sd.items()}


def detect(sd: dict[str, torch.Tensor], path: Path) -> str:
    """Which PaddleGAN generator the keys are: stylegan2, photo2cartoon or ugatit."""
    if "style.1.weight" in sd and "input.input" in sd:
        return "stylegan2"
    if any(".HG.0.ConvBlockskip1." in k for k in sd):
        return "photo2cartoon"
    if "DownBlock.1.weight" in sd and "UpBlock1_1.conv1.weight" in sd:
        return "ugatit"
    shown = ", ".join(list(sd)[:6])
    raise BadInput(
        f"{path}: not a PaddleGAN StyleGANv2Generator, ResnetUGATITP2CGenerator or ResnetUGATITGenerator "
        f"(keys: {shown}, ...)"
    )


def convert_stylegan2(path: Path) -> sg2.Converted:
    sd = _linear_to_torch(load_pdparams(path))
    kwargs = sg2._rosinality_kwargs(sd)
    with torch.device("meta"):
        names = set(Generator(**kwargs).state_dict())
    blur = kwargs.get("blur_kernel", (1, 3, 3, 1))  # the fixed kernels, from a 1-channel generator
    constants = Generator(kwargs["size"], 1, 1, blur_kernel=blur, channel_max=1).state_dict()
    filled = sorted(k for k in names - set(sd) if k.endswith("blur.kernel") or k.endswith("upsample.kernel"))
    sd.update({k: constants[k] for k in filled})
    sg2._check_complete(sd, kwargs, f"{path}")
    source = {
        "format": "paddle", "file": path.name, "sha256": sha256(path), "net": "StyleGANv2Generator",
        "keys_consumed": len(sd) - len(filled), "filled_constant_kernels": len(filled),
    }  # fmt: skip
    return sg2.Converted(kwargs, sd, {}, source)


_P2C_TOP = [  # PaddleGAN's Sequential positions -> minivision's module names
    (r"^DownBlock\.1\.", "ConvBlock1.1."),
    (r"^DownBlock\.4\.", "HourGlass1."),
    (r"^DownBlock\.5\.", "HourGlass2."),
    (r"^DownBlock\.7\.", "DownBlock1.1."),
    (r"^DownBlock\.11\.", "DownBlock2.1."),
    (r"^UpBlock\.2\.", "UpBlock1.2."),
    (r"^UpBlock\.3\.", "UpBlock1.3."),
    (r"^UpBlock\.7\.", "UpBlock2.2."),
    (r"^UpBlock\.8\.", "UpBlock2.3."),
    (r"^UpBlock\.10\.", "HourGlass3."),
    (r"^UpBlock\.11\.", "HourGlass4."),
    (r"^UpBlock\.13\.", "ConvBlock2.1."),
]
_P2C_INNER = [
    (r"\.HG\.0\.ConvBlock([1-4])\.", r".HG.0.ConvBlock\1_2."),
    (r"\.HG\.0\.ConvBlockskip([1-4])\.", r".HG.0.ConvBlock\1_1."),
    (r"\.conv_block([1-3])\.", r".ConvBlock\1."),
    (r"\.conv_skip\.", ".ConvBlock4."),
]


def p2c_key(key: str) -> str:
    """A ResnetUGATITP2CGenerator key -> the minivision photo2cartoon key of the same tensor."""
    for pattern, repl in (*_P2C_TOP, *_P2C_INNER):
        key = re.sub(pattern, repl, key, count=1)
    return key


def convert_generator(path: Path, family: str) -> ug.Converted:
    """A PaddleGAN photo2cartoon or U-GAT-IT genA2B -> the minivision / znxlwm layout, checked key by key."""
    sd = _linear_to_torch(load_pdparams(path))
    zeros = []
    if family == "photo2cartoon":
        renamed = {p2c_key(k): v for k, v in sd.items()}
        if len(renamed) != len(sd):
            raise BadInput(f"{path}: two PaddleGAN keys map to one photo2cartoon tensor")
        sd = renamed
        found, kwargs, detected = ug.detect_config(sd, path)
        with torch.device("meta"):
            expected = ug.photo2cartoon.ResnetGenerator(**kwargs).state_dict()
        for k in sorted(set(expected) - set(sd)):
            linear_bias = k.endswith(".bias") and sd.get(k[: -len("bias")] + "weight", torch.empty(0)).ndim == 2
            if linear_bias or ".ConvBlock4." in k:  # no bias in Paddle's Linears; unused skip projections
                sd[k] = torch.zeros(expected[k].shape)
                zeros.append(k)
    else:
        found, kwargs, detected = ug.detect_config(sd, path)
    ug._check_against_net(sd, found, kwargs, path, "genA2B")
    source = {
        "file": str(path), "sha256": sha256(path), "which": "genA2B", "nets_in_file": ["genA2B"],
        "detected": detected, "paddle": True, "zero_filled": len(zeros),
    }  # fmt: skip
    return ug.Converted(family=found, net_kwargs=kwargs, tensors=sd, source=source)
