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

    Symbolic links are followed, but each real folder and each real file is read once: a link to a
    folder already read (`again -> .`, `up -> ..`, a second path to the same photos) is skipped, so
    a loop cannot hang the walk, and one warning says how many duplicates were left out.
    Raises BadInput for a missing path, a path that is not a folder, or a folder with no images.
    Hidden files and folders (".name") are ignored.
    """
    root = Path(folder)
    if not root.exists():
        raise BadInput(f"{root}: no such file or folder")
    if not root.is_dir():
        raise BadInput(f"{root}: not a folder")
    walk = _Walk(root)
    if walk.duplicates:
        console.warn(
            f"{root}: {walk.duplicates} folder(s) or image(s) reached again through symbolic links "
            "(a loop or a second path) were read once"
        )
    if not walk.found:
        raise BadInput(f"{root}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)} recursively)")
    return sorted(walk.found, key=lambda p: p.relative_to(root).as_posix())


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of what `path` points to; None when it cannot be reached (a broken link)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class _Walk:
    """The image files below `root`, each real folder and file taken once.

    The real tree (no links followed) comes first, then the links found in it, in sorted order, then
    the links found behind those, and so on: a photo is listed under its real path when the folder
    holds both, and a folder behind several links under the first of them.
    """

    def __init__(self, root: Path) -> None:
        # A link to the root or to a folder above it is a loop: what it leads to holds the root itself.
        self.folders = {key for p in (root, *root.resolve().parents) if (key := _identity(str(p)))}
        self.files: set[tuple[int, int]] = set()
        self.found: list[Path] = []
        self.duplicates = 0
        pending = [str(root)]
        while pending:  # one generation of links at a time
            folder_links: list[str] = []
            for top in pending:
                for path in self._real_tree(top, folder_links):  # the linked files, after the real ones
                    self._add_file(path)
            pending = self._new_folders(folder_links)

    def _real_tree(self, top: str, folder_links: list[str]) -> list[str]:
        """Add the real files below `top`; return the linked files, append the linked folders to `folder_links`."""
        file_links: list[str] = []
        for dirpath, dirnames, filenames in os.walk(top):  # followlinks=False: links are collected
            kept = []
            for d in sorted(n for n in dirnames if not n.startswith(".")):
                path = os.path.join(dirpath, d)
                if os.path.islink(path):
                    folder_links.append(path)
                elif (key := _identity(path)) not in self.folders:  # a bind mount could repeat one
                    self.folders.add(key)
                    kept.append(d)
                else:
                    self.duplicates += 1
            dirnames[:] = kept
            for name in sorted(filenames):
                if name.startswith(".") or not is_image_path(name):
                    continue
                path = os.path.join(dirpath, name)
                if os.path.islink(path):
                    file_links.append(path)
                else:
                    self._add_file(path)
        return file_links

    def _add_file(self, path: str) -> None:
        key = _identity(path)
        if key is not None and key in self.files:
            self.duplicates += 1
            return
        if key is not None:
            self.files.add(key)
        self.found.append(Path(path))  # a broken link stays: reading it reports it as unreadable

    def _new_folders(self, links: list[str]) -> list[str]:
        """The linked folders not read yet, each once."""
        new = []
        for path in links:
            key = _identity(path)
            if key is None:  # gone since it was listed
                continue
            if key in self.folders:
                self.duplicates += 1
                continue
            self.folders.add(key)
            new.append(path)
        return new


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
    except Image.DecompressionBombError as e:  # a huge image (15000x15000): refused before decoding
        raise BadInput(f"{path}: too large to read safely ({e})") from None
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
