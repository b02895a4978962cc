"""Rebuild a generator from a checkpoint file alone and draw reproducible samples from it.

Latents come from a CPU torch.Generator seeded with --seed, drawn in fixed chunks of LATENT_CHUNK
so that image i of `--n N` is the same whatever N and whatever the batch size; generation runs in
eval mode. Same seed + same weights = the same images (byte-identical PNGs on the same machine).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gan_cli import console
from gan_cli.errors import BadInput
from gan_cli.io import checkpoint as ckpt
from gan_cli.registry import Family, get_family, parse_options

LATENT_CHUNK = 256


@dataclass
class LoadedGenerator:
    family: Family
    G: nn.Module
    meta: dict
    path: Path
    device: torch.device

    @property
    def class_names(self) -> list[str]:
        return list(self.meta.get("class_names") or [])

    def latent_chunks(self, n: int, seed: int) -> Iterator[torch.Tensor]:
        """The latents of images 0..n-1 for `seed`, LATENT_CHUNK at a time."""
        g = torch.Generator().manual_seed(seed)
        for i in range(0, n, LATENT_CHUNK):
            yield self.family.sample_latents(min(LATENT_CHUNK, n - i), g)

    def latents(self, n: int, seed: int) -> torch.Tensor:
        return torch.cat(list(self.latent_chunks(n, seed)) or [torch.empty(0, self.family.latent_dim())])

    def class_index(self, value: str) -> int:
        names = self.class_names
        if value in names:
            return names.index(value)
        try:
            k = int(value)
        except ValueError:
            raise BadInput(f"--class {value}: not a class of this model ({', '.join(names)})") from None
        if not 0 <= k < self.family.num_classes:
            raise BadInput(f"--class {value}: this model has classes 0..{self.family.num_classes - 1}")
        return k

    def labels(self, n: int, cls: int | None = None, cols: int | None = None) -> torch.Tensor | None:
        """Class labels for n images: all `cls`, one class per grid row, or cycling through classes."""
        if self.family.task != "class":
            return None
        if cls is not None:
            return torch.full((n,), cls, dtype=torch.long)
        idx = torch.arange(n)
        return (idx // cols if cols else idx) % self.family.num_classes

    @torch.no_grad()
    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 64) -> Iterator[torch.Tensor]:
        """Yield float CPU batches (B, C, H, W) in [-1, 1]."""
        for i in range(0, z.shape[0], batch_size):
            zb = z[i : i + batch_size].to(self.device)
            yb = None if y is None else y[i : i + batch_size].to(self.device)
            yield self.family.generate(self.G, zb, yb).float().clamp_(-1, 1).cpu()


def load_generator(
    path: str | os.PathLike, device: torch.device | str = "cpu", expect: str | None = None
) -> LoadedGenerator:
    """Build the family and its G from a checkpoint (full or generator-only); BadInput if it does not fit."""
    path = Path(path)
    meta = ckpt.read_meta(path)
    fam_name = meta.get("family", "?")
    if expect is not None:
        want = get_family(expect).name
        if fam_name != want:
            raise BadInput(f"{path} is a {fam_name} checkpoint, not {want} (drop the model name or pick another file)")
    fam_cls = get_family(fam_name)
    try:
        opts = parse_options(fam_cls, None, meta["options"])
        family = fam_cls(opts, int(meta["size"]), int(meta["channels"]), int(meta.get("num_classes", 0)))
    except (KeyError, TypeError, ValueError) as e:
        raise BadInput(f"{path}: checkpoint metadata is incomplete ({e})") from None
    G = family.build()["G"]
    tensors, _ = ckpt.load(path)
    ckpt.load_module("G_ema" if any(k.startswith("G_ema.") for k in tensors) else "G", G, tensors, path)
    G.to(device).eval()
    return LoadedGenerator(family, G, meta, path, torch.device(device))


def find_latest(model: str) -> Path:
    """The newest checkpoint of the newest runs/<model>-NNN (said on stderr)."""
    from gan_cli.train.config import checkpoints_in, newest_run

    name = get_family(model).name
    run = newest_run(name)
    if run is None:
        raise BadInput(
            f"no --weights given and no runs/{name}-*/checkpoints found: train one with "
            f"`gan train {name} --data ...` or pass --weights FILE"
        )
    path = checkpoints_in(run)[-1]
    console.info(f"using {path}")
    return path


def load_latents(path: str | os.PathLike, dim: int) -> torch.Tensor:
    path = Path(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise BadInput(f"--latents {path}: no such file") from None
    except (OSError, ValueError) as e:
        raise BadInput(f"--latents {path}: not a .npy array ({e})") from None
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != dim or not np.issubdtype(arr.dtype, np.floating):
        raise BadInput(f"--latents {path}: expected a float array of shape (N, {dim}), got {arr.dtype} {arr.shape}")
    if not np.isfinite(arr).all():
        raise BadInput(f"--latents {path}: contains NaN or inf")
    return torch.from_numpy(arr.astype(np.float32))


def iter_samples(
    ckpt_path: str | os.PathLike,
    n: int,
    seed: int,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    truncation: float | None = None,
) -> Iterator[torch.Tensor]:
    """The n images that `gan sample CKPT --n n --seed seed` writes, as float batches in [-1, 1]."""
    gen = load_generator(ckpt_path, device)
    if truncation is not None:
        raise BadInput(f"{gen.family.name} has no truncation trick")
    y = gen.labels(n)
    for k, z in enumerate(gen.latent_chunks(n, seed)):
        start = k * LATENT_CHUNK
        yield from gen.generate(z, None if y is None else y[start : start + z.shape[0]], batch_size)


def is_checkpoint(path: str | os.PathLike) -> bool:
    return ckpt.is_checkpoint(path)
