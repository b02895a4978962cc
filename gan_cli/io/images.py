"""Reading and writing images, whatever their mode, and tiling them into grids.

Readers convert instead of rejecting: grayscale, RGB, RGBA (composited on white), palette,
16-bit and CMYK inputs all come back as 8-bit "L" or "RGB". Folders are walked recursively in a
stable (sorted) order. Unreadable files inside a folder are skipped with a warning and counted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gan_cli import console
from gan_cli.errors import BadInput
from gan_cli.io.atomic import atomic_path

if TYPE_CHECKING:  # torch is imported where it is used, so `gan prep` and `gan --help` start fast
    import torch

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}


def is_image_path(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(IMAGE_EXTENSIONS)


def list_images(folder: str | os.PathLike) -> list[Path]:
    """All image files below `folder`, recursively, sorted by relative path.

    Raises BadInput for a missing path, a path that is not a folder, or a folder with no images.
    Hidden files and folders (".name") are ignored.
    """
    root = Path(folder)
    if not root.exists():
        raise BadInput(f"{root}: no such file or folder")
    if not root.is_dir():
        raise BadInput(f"{root}: not a folder")
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and is_image_path(name):
                found.append(Path(dirpath) / name)
    if not found:
        raise BadInput(f"{root}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)} recursively)")
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def to_mode(img: Image.Image, mode: str) -> Image.Image:
    """Convert any PIL image to 8-bit "L" or "RGB" (or "RGBA"), handling 16-bit, palette and alpha.

    Transparent pixels are composited on white for "L" and "RGB".
    """
    if mode not in ("L", "RGB", "RGBA"):
        raise ValueError(f"unsupported target mode {mode}")
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("LA", "PA"):
        img = img.convert("RGBA")
    if img.mode == "RGBA" and mode != "RGBA":
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img).convert("RGB")
    if img.mode != mode:
        img = img.convert(mode)
    return img


def load_image(path: str | os.PathLike, mode: str = "RGB") -> Image.Image:
    """Open one image and convert it to `mode`. Raises BadInput with a clear message if unreadable."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            # EXIF orientation: phone photos are stored sideways with a rotation tag.
            im = ImageOps.exif_transpose(im) or im
            return to_mode(im, mode)
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a folder, expected an image") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise BadInput(f"{path}: not a readable image ({type(e).__name__}: {e})") from None


@dataclass
class LoadReport:
    loaded: int = 0
    skipped: int = 0


def load_images(
    paths: Iterable[Path], mode: str = "RGB", size: int | None = None, report: LoadReport | None = None
) -> Iterable[tuple[Path, Image.Image]]:
    """Yield (path, image) for each readable path; warn once per unreadable file and count it."""
    report = report if report is not None else LoadReport()
    for p in paths:
        try:
            img = load_image(p, mode)
        except BadInput as e:
            console.warn(f"skipped {e}")
            report.skipped += 1
            continue
        if size is not None:
            img = resize_center_crop(img, size)
        report.loaded += 1
        yield p, img


def resize_center_crop(img: Image.Image, size: int) -> Image.Image:
    """Scale the short side to `size` (Lanczos) and crop the centre square."""
    w, h = img.size
    if (w, h) == (size, size):
        return img
    s = size / min(w, h)
    nw, nh = max(size, round(w * s)), max(size, round(h * s))
    img = img.resize((nw, nh), Image.Resampling.LANCZOS)
    left, top = (nw - size) // 2, (nh - size) // 2
    return img.crop((left, top, left + size, top + size))


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """uint8 PIL image -> float tensor (C, H, W) in [-1, 1]."""
    import torch

    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


def tensor_to_uint8(x: torch.Tensor) -> np.ndarray:
    """Float tensor (C, H, W) or (N, C, H, W) in [-1, 1] -> uint8 array (..., H, W, C), rounded."""
    import torch

    x = x.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return x.movedim(-3, -1).numpy()


def tensor_to_pil(x: torch.Tensor) -> Image.Image:
    arr = tensor_to_uint8(x)
    if arr.shape[-1] == 1:
        return Image.fromarray(arr[..., 0], "L")
    return Image.fromarray(arr, "RGB" if arr.shape[-1] == 3 else "RGBA")


def save_image(img: Image.Image, path: str | os.PathLike) -> Path:
    """Write an image atomically; the format comes from the extension (PNG when there is none)."""
    path = Path(path)
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise BadInput(f"{path}: unsupported image extension (use one of {', '.join(SAVE_FORMATS)})")
    if fmt == "JPEG" and img.mode not in ("L", "RGB"):
        img = to_mode(img, "RGB")
    with atomic_path(path) as tmp:
        # No timestamps or other varying chunks: same pixels give byte-identical files.
        img.save(tmp, format=fmt, **({"optimize": False} if fmt == "PNG" else {}))
    return path


def make_grid(images: torch.Tensor, rows: int, cols: int, padding: int = 2, pad_value: float = 1.0) -> torch.Tensor:
    """Tile (N, C, H, W) images (N <= rows*cols) into one (C, H', W') tensor, row-major, padded."""
    import torch

    n, c, h, w = images.shape
    if n > rows * cols:
        raise ValueError(f"{n} images do not fit a {rows}x{cols} grid")
    grid = torch.full((c, rows * (h + padding) + padding, cols * (w + padding) + padding), pad_value)
    for i in range(n):
        r, k = divmod(i, cols)
        y, x = padding + r * (h + padding), padding + k * (w + padding)
        grid[:, y : y + h, x : x + w] = images[i].detach().float().cpu()
    return grid


def save_grid(images: torch.Tensor, rows: int, cols: int, path: str | os.PathLike) -> Path:
    return save_image(tensor_to_pil(make_grid(images, rows, cols)), path)


def save_many(images: torch.Tensor, folder: str | os.PathLike, names: Sequence[str]) -> list[Path]:
    folder = Path(folder)
    return [save_image(tensor_to_pil(img), folder / name) for img, name in zip(images, names)]


def save_gif(frames: torch.Tensor, path: str | os.PathLike, fps: float = 15.0) -> Path:
    """Frames (N, C, H, W) in [-1, 1] -> a looping GIF, written atomically."""
    path = Path(path)
    pics = [tensor_to_pil(f).convert("RGB") for f in frames]
    with atomic_path(path) as tmp:
        pics[0].save(tmp, format="GIF", save_all=True, append_images=pics[1:], duration=round(1000 / fps), loop=0)
    return path
