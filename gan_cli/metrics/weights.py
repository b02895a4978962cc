"""Finding and loading the FID Inception weights.

Looked for, in order:
1. `--inception PATH`;
2. `$GAN_CLI_INCEPTION`;
3. the user cache, `~/.cache/gan-cli/` (or `$XDG_CACHE_HOME/gan-cli/`): pytorch-fid's file name
   `pt_inception-2015-12-05-6726825d.pth`, or `pt_inception-2015-12-05.safetensors`;
4. a download of pytorch-fid's file into that cache, its SHA-256 checked (unless $GAN_CLI_OFFLINE).

Either format works: pytorch-fid's `.pth` state dict (read with torch.load(weights_only=True), no
pickle code runs) or a `.safetensors` file with the same keys. `fc.*` and `num_batches_tracked`
entries are ignored; anything else missing or extra is an error.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import torch

from gan_cli import console
from gan_cli.errors import BadInput, OfflineError, RuntimeFailure
from gan_cli.io.atomic import atomic_path
from gan_cli.io.datasets import cache_dir
from gan_cli.metrics.inception import FIDInception, expected_keys

FID_WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
)
FID_WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_SHA256_PREFIX = "6726825d"  # torch.hub convention: the file name carries the hash prefix
SAFETENSORS_NAME = "pt_inception-2015-12-05.safetensors"
ENV_VAR = "GAN_CLI_INCEPTION"
CONNECT_TIMEOUT_S = 5.0


def find_weights(explicit: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The path of the Inception weights, downloading them into the cache if need be and possible."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise BadInput(f"--inception {path}: no such file")
        return path
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise BadInput(f"${ENV_VAR}={env}: no such file")
        return path
    for name in (FID_WEIGHTS_NAME, SAFETENSORS_NAME):
        if (cache_dir() / name).is_file():
            return cache_dir() / name
    target = cache_dir() / FID_WEIGHTS_NAME
    if download and not os.environ.get("GAN_CLI_OFFLINE") and _reachable(FID_WEIGHTS_URL):
        return _download(FID_WEIGHTS_URL, target)
    raise OfflineError(
        "the FID Inception weights are not here and cannot be downloaded (offline?). Either pass "
        f"--inception PATH, set ${ENV_VAR}=PATH, or put the file in {cache_dir()}/ "
        f"(pytorch-fid's {FID_WEIGHTS_NAME} from {FID_WEIGHTS_URL}, or {SAFETENSORS_NAME} with the same keys)"
    )


def _reachable(url: str, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Can we open a TCP connection to the URL's host? Answered within `timeout` even if DNS hangs."""
    parsed = urllib.parse.urlsplit(url)
    host, port = parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)
    ok: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            ok.append(True)
        except OSError:
            pass

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 1.0)
    return bool(ok)


def _download(url: str, target: Path) -> Path:
    console.info(f"downloading the FID Inception weights (92 MB) to {target}")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT_S * 6) as r, atomic_path(target) as tmp:
            total = int(r.headers.get("Content-Length") or 0) or None
            from rich.progress import Progress

            err = console.console()
            with open(tmp, "wb") as f, Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
                task = bar.add_task("inception", total=total)
                while chunk := r.read(1 << 20):
                    f.write(chunk)
                    digest.update(chunk)
                    bar.advance(task, len(chunk))
            if not digest.hexdigest().startswith(FID_WEIGHTS_SHA256_PREFIX):
                raise RuntimeFailure(f"{url}: checksum mismatch (sha256 {digest.hexdigest()[:16]}...), not saved")
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise OfflineError(f"downloading {url} failed ({e}); pass --inception PATH or set ${ENV_VAR}") from None
    return target


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The network's tensors from a .pth (weights_only) or .safetensors file, checked against the net."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(path), device="cpu")
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch and safetensors raise many kinds: all mean "not readable weights"
        raise BadInput(f"{path}: cannot read Inception weights ({type(e).__name__}: {e})") from None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise BadInput(f"{path}: not a state dict of tensors")
    sd = {k: v for k, v in sd.items() if not (k.startswith("fc.") or k.endswith("num_batches_tracked"))}
    want = expected_keys()
    missing, extra = sorted(want - set(sd)), sorted(set(sd) - want)
    if missing or extra:
        detail = f"missing {len(missing)} (e.g. {missing[0]})" if missing else f"unexpected {extra[0]}"
        raise BadInput(f"{path}: not the FID Inception-v3 weights ({detail})")
    return {k: v.to(torch.float32) for k, v in sd.items()}


def load_inception(path: str | os.PathLike) -> FIDInception:
    """The FID Inception network with weights from `path`, in eval mode (not yet fused)."""
    sd = read_state_dict(path)
    with torch.device("meta"):  # no random initialisation of 22M parameters that are overwritten anyway
        net = FIDInception()
    for name, _ in net.named_buffers():
        if name.endswith("num_batches_tracked"):
            sd[name] = torch.zeros((), dtype=torch.long)
    try:
        net.load_state_dict(sd, strict=True, assign=True)
    except RuntimeError as e:  # shape mismatches
        raise BadInput(f"{path}: weights do not fit the FID Inception-v3 ({str(e).splitlines()[-1].strip()})") from None
    return net.eval().requires_grad_(False)
