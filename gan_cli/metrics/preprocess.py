"""From image files (or generated uint8 pixels) to the network's input, exactly as pytorch-fid does.

legacy (default, pytorch-fid): PIL `open(path).convert("RGB")` -> uint8 -> float / 255 (ToTensor)
    -> the network resizes to 299x299 (bilinear, align_corners=False) and maps to [-1, 1].
clean (clean-fid): each channel of the uint8 image resized to 299x299 by PIL's bicubic filter in
    float ("F" mode), clipped to [0, 255], then / 255 -> the network (no second resize).

Decoding (and the clean resize) runs in a thread pool, a few batches ahead of the network; PIL
releases the GIL while it decodes and resizes, so this overlaps with the forward pass.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from gan_cli import console
from gan_cli.io.images import to_mode
from gan_cli.metrics.inception import INPUT_SIZE, resize_bilinear

RESIZE_MODES = ("legacy", "clean")
HIGH_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def decode_rgb(path: str | os.PathLike) -> np.ndarray:
    """uint8 (H, W, 3) pixels of an image file, converted as pytorch-fid does (`.convert("RGB")`).

    16-bit and float images are scaled to 8 bits first (PIL's own conversion would clip them).
    """
    with Image.open(path) as im:
        im.load()
        img = to_mode(im, "L") if im.mode in HIGH_BIT_MODES else im
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


def to_rgb_uint8(pixels: np.ndarray) -> np.ndarray:
    """(N, H, W, C) uint8 with C = 1, 3 or 4 -> (N, H, W, 3): gray repeated, alpha dropped (as PIL)."""
    c = pixels.shape[-1]
    if c == 1:
        return np.repeat(pixels, 3, axis=-1)
    if c == 4:
        return np.ascontiguousarray(pixels[..., :3])
    if c != 3:
        raise ValueError(f"cannot make RGB from {c} channels")
    return pixels


def clean_resize(rgb: np.ndarray) -> np.ndarray:
    """clean-fid's resize: per channel, float32 PIL bicubic to 299x299, clipped to [0, 255]."""
    out = np.empty((INPUT_SIZE, INPUT_SIZE, 3), dtype=np.float32)
    for ch in range(3):
        img = Image.fromarray(rgb[:, :, ch].astype(np.float32), mode="F")
        img = img.resize((INPUT_SIZE, INPUT_SIZE), resample=Image.Resampling.BICUBIC)
        out[:, :, ch] = np.asarray(img, dtype=np.float32)
    return np.clip(out, 0.0, 255.0, out=out)


def prepare(rgb: np.ndarray, resize: str) -> np.ndarray:
    """The per-image, thread-pool part: nothing for legacy, the PIL resize for clean."""
    return clean_resize(rgb) if resize == "clean" else rgb


def to_network_input(images: Sequence[np.ndarray], resize: str) -> torch.Tensor:
    """Prepared images -> (N, 3, 299, 299) float32 in [0, 1], ready for FIDInception(resize_input=False)."""
    if resize == "clean":
        batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)
        return batch.div(255.0).contiguous()
    out = torch.empty(len(images), 3, INPUT_SIZE, INPUT_SIZE)
    start = 0
    while start < len(images):  # runs of same-size images are resized together
        end = start + 1
        while end < len(images) and images[end].shape == images[start].shape:
            end += 1
        # ToTensor: uint8 HWC -> float CHW / 255; then pytorch-fid's bilinear resize to 299.
        x = torch.from_numpy(np.stack(images[start:end])).permute(0, 3, 1, 2).contiguous().float().div(255)
        out[start:end] = resize_bilinear(x)
        start = end
    return out


def _load(path: Path, resize: str) -> np.ndarray | str:
    try:
        return prepare(decode_rgb(path), resize)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as e:
        return f"{path}: not a readable image ({type(e).__name__}: {e})"


def iter_folder_batches(
    paths: Sequence[Path], batch_size: int, resize: str, workers: int, skipped: list[str]
) -> Iterator[torch.Tensor]:
    """Network-input batches for `paths`, decoded `workers` at a time, two batches ahead.

    Unreadable files are skipped with a warning and appended to `skipped`.
    """
    chunks = [paths[i : i + batch_size] for i in range(0, len(paths), batch_size)]
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="fid-decode") as pool:
        pending: list[list[Future]] = []
        for i in range(min(2, len(chunks))):
            pending.append([pool.submit(_load, p, resize) for p in chunks[i]])
        next_chunk = len(pending)
        while pending:
            futures = pending.pop(0)
            if next_chunk < len(chunks):
                pending.append([pool.submit(_load, p, resize) for p in chunks[next_chunk]])
                next_chunk += 1
            images = []
            for fut in futures:
                res = fut.result()
                if isinstance(res, str):
                    console.warn(f"skipped {res}")
                    skipped.append(res)
                else:
                    images.append(res)
            if images:
                yield to_network_input(images, resize)


def iter_pixel_batches(batches: Iterable[np.ndarray], resize: str, pool: ThreadPoolExecutor) -> Iterator[torch.Tensor]:
    """Network-input batches from (N, H, W, C) uint8 arrays (generated samples)."""
    for pixels in batches:
        rgb = to_rgb_uint8(pixels)
        images = list(pool.map(lambda im: prepare(im, resize), rgb))
        yield to_network_input(images, resize)
