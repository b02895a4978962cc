"""Latents as users name them: seed lists, z or w+ arrays in .npy files, interpolation paths.

- Seeds: "0-35,40,50" -> [0, ..., 35, 40, 50]; seed s gives the latent the family draws from a CPU generator
  seeded with s (so `--seeds 7` shows the image a grid would show first for `--seed 7`).
- Files: z is (N, z_dim); w+ (style-based families) is (N, num_ws, w_dim): the shape says which.
- Interpolation: slerp between z keyframes (z is Gaussian: its norm should stay typical) or lerp between w+
  keyframes, `frames` per transition, looping back to the first keyframe.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from gan_cli.errors import BadInput

MAX_SEEDS = 100_000


def parse_int_list(spec: str, flag: str, lo: int = 0, hi: int = 2**32 - 1) -> list[int]:
    """ "0-3,8,10-11" -> [0, 1, 2, 3, 8, 10, 11] (ranges inclusive), each within [lo, hi]."""
    out: list[int] = []
    for part in str(spec).replace(" ", "").split(","):
        if not part:
            continue
        try:
            a, _, b = part.partition("-") if not part.startswith("-") else (part, "", "")
            first, last = int(a), int(b) if b else int(a)
        except ValueError:
            raise BadInput(f"{flag} {spec}: expected numbers and ranges like 0-35,40,50") from None
        if first > last:
            raise BadInput(f"{flag} {spec}: range {part} runs backwards")
        if first < lo or last > hi:
            raise BadInput(f"{flag} {spec}: values must be within {lo}..{hi}")
        if len(out) + last - first + 1 > MAX_SEEDS:
            raise BadInput(f"{flag} {spec}: more than {MAX_SEEDS} values")
        out.extend(range(first, last + 1))
    if not out:
        raise BadInput(f"{flag}: give at least one value")
    return out


def seed_latents(family, seeds: list[int]) -> torch.Tensor:
    """One latent per seed: the first latent of a CPU generator seeded with it."""
    return torch.cat([family.sample_latents(1, torch.Generator().manual_seed(s)) for s in seeds])


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between rows of a and b (falls back to lerp when they are parallel)."""
    na, nb = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((na * nb).sum(-1, keepdim=True).clamp(-1, 1))
    so = torch.sin(omega)
    if float(so.abs().min()) < 1e-6:
        return torch.lerp(a, b, t)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def interpolate(keys: torch.Tensor, frames: int, spherical: bool) -> torch.Tensor:
    """`frames` per transition between consecutive keys and back from the last to the first."""
    out = []
    for i in range(keys.shape[0]):
        a, b = keys[i], keys[(i + 1) % keys.shape[0]]
        for f in range(frames):
            t = f / frames
            out.append(slerp(a[None], b[None], t)[0] if spherical else torch.lerp(a, b, t))
    return torch.stack(out)


def load_any(path: str | os.PathLike, z_dim: int, num_ws: int | None, w_dim: int | None) -> tuple[torch.Tensor, str]:
    """(latents, "z" or "w") from a .npy file whose shape says which."""
    path = Path(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise BadInput(f"--latents {path}: no such file") from None
    except (OSError, ValueError) as e:
        raise BadInput(f"--latents {path}: not a .npy array ({e})") from None
    if not isinstance(arr, np.ndarray):  # np.load opens a zip (.npz) whatever the file is named
        arr.close()
        raise BadInput(f"--latents {path}: a .npz archive, not a .npy array (save one array with numpy.save)")
    if not np.issubdtype(arr.dtype, np.floating) or arr.size == 0:
        raise BadInput(f"--latents {path}: expected a non-empty float array, got {arr.dtype} {arr.shape}")
    if not np.isfinite(arr).all():
        raise BadInput(f"--latents {path}: contains NaN or inf")
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim == 2 and arr.shape[1] == z_dim:
        return torch.from_numpy(arr.astype(np.float32)), "z"
    if arr.ndim == 3 and num_ws is not None and arr.shape[1:] == (num_ws, w_dim):
        return torch.from_numpy(arr.astype(np.float32)), "w"
    wplus = f" or w+ (N, {num_ws}, {w_dim})" if num_ws is not None else ""
    raise BadInput(f"--latents {path}: expected z (N, {z_dim}){wplus}, got {arr.shape}")
