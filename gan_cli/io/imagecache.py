"""Decode an image folder once into a uint8 array file in the user cache, then memory-map it.

A data set larger than RAM trains (batches are gathered from the map, the OS pages rows in and out) and
the second run over the same folder starts in seconds. The cache entry is keyed by the file list with each
file's size and modification time, the target size, the colour mode and which part of each image is kept
(all, or the left/right half of side-by-side `AB` images), so editing, adding or removing a file makes a
new entry. Files: `<cache>/images/<key>.u8` (raw rows, N x H x W x C) and `<key>.json` (shape, names,
skipped files), the JSON written last as the commit mark. Concurrent runs (torchrun ranks, two terminals)
serialise on a lock file; the first decodes, the others read its result.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from gan_cli import console
from gan_cli.errors import BadInput
from gan_cli.io.atomic import write_text
from gan_cli.io.images import load_image, resize_center_crop

VERSION = 1  # bump when the decoding changes, so old entries are not reused


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gan-cli"


def decode_file(path: Path, mode: str, size: int, part: str = "all") -> np.ndarray:
    """One image file -> uint8 (size, size, C); `part` "left"/"right" keeps one half of an AB image."""
    img = load_image(path, mode)
    if part != "all":
        w, h = img.size
        img = img.crop((0, 0, w // 2, h) if part == "left" else (w // 2, 0, w, h))
    arr = np.asarray(resize_center_crop(img, size), dtype=np.uint8)
    return arr[:, :, None] if arr.ndim == 2 else arr


def decode_row(row: np.ndarray, size: int) -> np.ndarray:
    """One (H, W, C) uint8 row of a .npy data set -> (size, size, C)."""
    img = Image.fromarray(row[:, :, 0] if row.shape[2] == 1 else row)
    arr = np.asarray(resize_center_crop(img, size), dtype=np.uint8)
    return arr[:, :, None] if arr.ndim == 2 else arr


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def file_key(paths: Sequence[Path], root: Path, *extra: object) -> str:
    """A key over the files' relative names, sizes and modification times, plus the decoding settings."""
    h = hashlib.sha256(json.dumps([VERSION, str(root.resolve()), *map(str, extra)]).encode())
    for p in paths:
        st = p.stat()
        h.update(f"{p.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def _open(entry: Path, meta: dict) -> np.ndarray:
    shape = tuple(meta["shape"])
    if shape[0] == 0:
        return np.zeros(shape, np.uint8)
    return np.memmap(entry.with_suffix(".u8"), dtype=np.uint8, mode="r", shape=shape)


def build(
    key: str,
    items: Sequence[object],
    names: Sequence[str],
    size: int,
    channels: int,
    decode: Callable[[object], np.ndarray],
    label: str,
) -> tuple[np.ndarray, list[str], list[str]]:
    """(memory-mapped rows, names of the rows, names skipped as unreadable): from the cache or decoded now."""
    entry = cache_dir() / "images" / key
    with _locked(entry.with_suffix(".lock")):
        meta_path = entry.with_suffix(".json")
        if meta_path.exists():
            try:
                meta = json.loads(meta_path.read_text())
                arr = _open(entry, meta)
                return arr, meta["names"], meta["skipped"]
            except (ValueError, KeyError, OSError):
                console.warn(f"data cache entry {entry} is damaged: decoding again")
        return _decode_all(entry, items, names, size, channels, decode, label)


def _decode_all(entry, items, names, size, channels, decode, label) -> tuple[np.ndarray, list[str], list[str]]:
    n = len(items)
    tmp = entry.with_suffix(".u8.tmp")
    rows = np.memmap(tmp, dtype=np.uint8, mode="w+", shape=(max(n, 1), size, size, channels))
    kept: list[str] = []
    skipped: list[str] = []
    t0 = time.perf_counter()

    def one(item: object) -> np.ndarray | BadInput:
        try:
            return decode(item)
        except BadInput as e:
            return e

    workers = min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool, _progress(n, label) as tick:
        for name, arr in zip(names, pool.map(one, items)):
            if isinstance(arr, BadInput):
                console.warn(f"skipped {arr}")
                skipped.append(name)
            else:
                rows[len(kept)] = arr
                kept.append(name)
            tick()
    rows.flush()
    del rows
    os.truncate(tmp, len(kept) * size * size * channels)
    os.replace(tmp, entry.with_suffix(".u8"))
    meta = {"shape": [len(kept), size, size, channels], "names": kept, "skipped": skipped}
    write_text(entry.with_suffix(".json"), json.dumps(meta))
    console.info(f"decoded {len(kept)} images of {label} in {time.perf_counter() - t0:.1f} s (cached in {entry}.u8)")
    return _open(entry, meta), kept, skipped


@contextlib.contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[], None]]:
    con = console.console()
    if not con.is_terminal or total < 200:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn(f"decoding {label}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=con
    ) as bar:
        task = bar.add_task("decode", total=total)
        yield lambda: bar.advance(task)
