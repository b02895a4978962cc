"""Small synthetic data sets for tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def make_folder(root: Path, n: int = 40, size: int = 32, mode: str = "RGB", seed: int = 0) -> Path:
    """n images of a bright square at a random place on a dark background."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        arr = np.full((size, size, 3), 20, np.uint8)
        x, y = rng.integers(0, size // 2, 2)
        arr[y : y + size // 2, x : x + size // 2] = rng.integers(150, 255, 3)
        img = Image.fromarray(arr)
        img = img.convert(mode) if mode != "RGB" else img
        img.save(root / f"img{i:03d}.png")
    return root


def make_class_folders(
    root: Path, classes: tuple[str, ...] = ("circle", "square"), n: int = 20, size: int = 32
) -> Path:
    for k, name in enumerate(classes):
        make_folder(root / name, n=n, size=size, seed=k)
    return root


TINY = ["-o", "ngf=8", "-o", "ndf=8"]
