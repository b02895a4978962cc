"""Read NVlabs network pickles (stylegan2-ada-pytorch, stylegan3) without running anything in them.

Those `.pkl` files are made with `torch_utils.persistence`: every network object is pickled as
`_reconstruct_persistent_obj(meta)`, where meta holds the *source code* of its Python module, the
class name and the object's `__dict__` (`_parameters`, `_buffers`, `_modules`, `_init_kwargs`, ...).
NVlabs' loader `exec`s that source, and an unrestricted unpickler would run whatever the file asks for.

`RestrictedUnpickler.find_class` answers only the globals such a pickle needs, each with a safe
stand-in, and refuses every other one (`os.system`, `builtins.eval`, `subprocess.Popen`, ...) with
BadInput naming it, before anything is called:

- `_reconstruct_persistent_obj` -> a plain dict {class_name, init_args, init_kwargs, state}; the
  embedded source is dropped unread;
- tensors: `torch._utils._rebuild_tensor_v2` from storages whose bytes (`torch.storage._load_from_bytes`,
  a legacy `torch.save`) go through `torch.load(weights_only=True)`; parameters become plain tensors;
- containers: `collections.OrderedDict`, `dnnlib.util.EasyDict` -> dict, sets;
- numpy scalars and dtypes (the layers' gains are numpy floats), object dtypes refused.
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan_cli.errors import BadInput


def _reconstruct_persistent_obj(meta: dict) -> dict:
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
        raise BadInput("persistent object in the pickle is not a pickled class instance")
    state = meta["state"]
    return {
        "class_name": str(meta.get("class_name")),
        "init_args": state.get("_init_args", ()),
        "init_kwargs": state.get("_init_kwargs", {}),
        "state": state,
    }


def _load_from_bytes(b: bytes) -> Any:
    if not isinstance(b, bytes):
        raise BadInput("tensor storage in the pickle is not bytes")
    return torch.load(io.BytesIO(b), map_location="cpu", weights_only=True)


def _rebuild_tensor_v2(storage: Any, offset: int, size: tuple, stride: tuple, *rest: Any) -> torch.Tensor:
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise BadInput("tensor in the pickle is not built from a storage")
    return torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())


def _rebuild_parameter(data: torch.Tensor, *rest: Any) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise BadInput("parameter in the pickle does not hold a tensor")
    return data


def _numpy_scalar(dtype: np.dtype, data: bytes = b"") -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise BadInput("numpy scalar in the pickle is not a plain number")
    return np.frombuffer(data, dtype=dtype, count=1)[0].item()


def latin1(text: str, encoding: str = "latin1") -> bytes:  # how protocol-2 pickles spell bytes
    if encoding not in ("latin1", "latin-1"):
        raise BadInput(f"pickle asks for the {encoding!r} codec")
    return text.encode("latin1")


_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("collections", "OrderedDict"): OrderedDict,
    ("dnnlib.util", "EasyDict"): dict,
    ("dnnlib", "EasyDict"): dict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("_codecs", "encode"): latin1,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals in `allowed`; anything else is BadInput. Subclasses (PaddleGAN's
    .pdparams reader) set their own `allowed`, `what` (the kind of file, for messages) and `content`."""

    allowed: dict[tuple[str, str], Any] = _ALLOWED
    what = "pickle"
    content = "a network pickle"

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise BadInput(
                f"refusing to load the {self.what}: it asks for {module}.{name}, which is not part of {self.content}"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise BadInput(
            f"refusing to load the {self.what}: it uses persistent ids (a torch.save file, not {self.content})"
        )


def load_network_pickle(path: Path) -> Any:
    """The pickle's content with tensors, dicts and persistent objects as plain dicts (see module doc)."""
    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f).load()
    except BadInput:
        raise
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror or e}") from None
    except Exception as e:  # truncated or corrupt data: pickle raises many kinds
        raise BadInput(f"{path} is not a readable network pickle ({type(e).__name__}: {e})") from None


def module_tensors(obj: dict, prefix: str = "") -> dict[str, torch.Tensor]:
    """Parameters and persistent buffers of an unpickled module, named as its state_dict would name them."""
    state = obj["state"]
    out: dict[str, torch.Tensor] = {}
    skip = state.get("_non_persistent_buffers_set") or set()
    for group in ("_parameters", "_buffers"):
        for k, v in (state.get(group) or {}).items():
            if v is not None and k not in skip:
                if not isinstance(v, torch.Tensor):
                    raise BadInput(f"{prefix}{k} in the pickle is not a tensor")
                out[prefix + k] = v
    for k, child in (state.get("_modules") or {}).items():
        if child is not None:
            if not (isinstance(child, dict) and "state" in child):
                raise BadInput(f"{prefix}{k} in the pickle is not a network module")
            out.update(module_tensors(child, f"{prefix}{k}."))
    return out
