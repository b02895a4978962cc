"""Training data, held in memory as one uint8 tensor (N, C, H, W) plus optional labels.

`--data` is one of:
- "mnist": IDX files found in $GAN_CLI_DATA/mnist, then the user cache, then downloaded (checksummed)
  when online; failing all of these, the 5,000-digit subset bundled with the package (one warning).
- a folder of images (unconditional), searched recursively;
- a folder of class subfolders (class-conditional): labels come from the subfolder names, sorted.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gan_cli import console
from gan_cli.errors import BadInput
from gan_cli.io.atomic import write_bytes
from gan_cli.io.images import LoadReport, is_image_path, list_images, load_images, resize_center_crop

MNIST_FILES = {  # name -> md5 of the official .gz (as listed by the MNIST mirrors)
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
BUNDLED_MNIST = Path(__file__).resolve().parent.parent / "assets" / "mnist"
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


@dataclass
class ImageData:
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor | None = None  # int64 (N,), for class-conditional data
    class_names: list[str] = field(default_factory=list)
    source: str = ""

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def size(self) -> int:
        return self.images.shape[-1]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gan-cli"


# --- MNIST ----------------------------------------------------------------------------------------
def read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise BadInput(f"{path}: cannot read IDX file ({e})") from None
    if len(data) < 8 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise BadInput(f"{path}: not an IDX file of unsigned bytes")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise BadInput(f"{path}: IDX file is truncated ({body.size} bytes for shape {dims})")
    return body.reshape(dims)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def _mnist_in(folder: Path) -> tuple[Path, Path] | None:
    imgs, labels = _find_idx(folder, "train-images-idx3-ubyte"), _find_idx(folder, "train-labels-idx1-ubyte")
    return (imgs, labels) if imgs and labels else None


def _download_mnist(dest: Path) -> tuple[Path, Path] | None:
    if os.environ.get("GAN_CLI_OFFLINE"):
        return None
    for stem, md5 in MNIST_FILES.items():
        target = dest / f"{stem}.gz"
        if target.exists():
            continue
        for mirror in MNIST_MIRRORS:
            try:
                with urllib.request.urlopen(mirror + target.name, timeout=5) as r:
                    data = r.read()
            except (urllib.error.URLError, OSError, TimeoutError):
                continue
            if hashlib.md5(data).hexdigest() == md5:
                console.info(f"downloaded {target.name} to {dest}")
                write_bytes(target, data)
                break
            console.warn(f"{mirror}{target.name}: checksum mismatch, ignored")
        else:
            return None
    return _mnist_in(dest)


def load_mnist() -> ImageData:
    env = os.environ.get("GAN_CLI_DATA")
    found = _mnist_in(Path(env) / "mnist") if env else None
    where = f"$GAN_CLI_DATA/mnist ({Path(env) / 'mnist'})" if found else ""
    if found is None:
        found = _mnist_in(cache_dir() / "mnist")
        where = str(cache_dir() / "mnist")
    if found is None:
        found = _download_mnist(cache_dir() / "mnist")
    if found is None:
        found = _mnist_in(BUNDLED_MNIST)
        where = "bundled 5k subset"
        console.warn(
            "full MNIST not found ($GAN_CLI_DATA/mnist, ~/.cache/gan-cli/mnist) and not downloadable: "
            "using the 5,000-digit subset bundled with gan-cli"
        )
    assert found is not None
    images, labels = read_idx(found[0]), read_idx(found[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise BadInput(f"MNIST files in {found[0].parent} do not match (images {images.shape}, labels {labels.shape})")
    return ImageData(
        images=torch.from_numpy(images.copy()).unsqueeze(1),
        labels=torch.from_numpy(labels.astype(np.int64)),
        class_names=[str(i) for i in range(10)],
        source=f"mnist ({where}, {len(images)} digits)",
    )


# --- image folders --------------------------------------------------------------------------------
def _class_folders(root: Path) -> list[Path] | None:
    """The subfolders of `root` if it is laid out as one subfolder per class (no loose images)."""
    if any(is_image_path(p) for p in root.iterdir() if p.is_file()):
        return None
    subs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    with_images = [s for s in subs if any(is_image_path(f) for _, _, fs in os.walk(s) for f in fs)]
    return with_images if len(with_images) >= 2 else None


def _source_is_gray(paths: list[Path]) -> bool:
    for p in paths[:64]:
        try:
            with Image.open(p) as im:
                if im.mode not in GRAY_MODES:
                    return False
        except OSError:
            continue
    return True


def load_folder(root: Path, size: int, channels: int | None = None) -> ImageData:
    classes = _class_folders(root)
    groups = [(i, list_images(c)) for i, c in enumerate(classes)] if classes else [(-1, list_images(root))]
    all_paths = [p for _, ps in groups for p in ps]
    channels = channels or (1 if _source_is_gray(all_paths) else 3)
    mode = "L" if channels == 1 else "RGB"
    report = LoadReport()
    arrays, labels = [], []
    for label, paths in groups:
        for _, img in load_images(paths, mode, size=size, report=report):
            arr = np.asarray(img, dtype=np.uint8)
            arrays.append(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
            labels.append(label)
    if report.skipped:
        console.warn(f"{report.skipped} unreadable image(s) skipped in {root}")
    if not arrays:
        raise BadInput(f"{root}: none of the {len(all_paths)} image(s) could be read")
    return ImageData(
        images=torch.from_numpy(np.stack(arrays)),
        labels=torch.tensor(labels) if classes else None,
        class_names=[c.name for c in classes] if classes else [],
        source=f"{root} ({len(arrays)} images{f', {len(classes)} classes' if classes else ''})",
    )


def resize_data(data: ImageData, size: int) -> ImageData:
    if data.size == size:
        return data
    x = F.interpolate(
        data.images.float(), size=(size, size), mode="bilinear", align_corners=False, antialias=size < data.size
    )
    data.images = x.round().clamp(0, 255).to(torch.uint8)
    return data


def load_data(spec: str, size: int) -> ImageData:
    """Resolve `--data` and return the whole set at `size` x `size`."""
    if spec.strip().lower() == "mnist":
        return resize_data(load_mnist(), size)
    root = Path(spec)
    if not root.exists():
        raise BadInput(f"--data {spec}: no such folder (use 'mnist' or a folder of images)")
    if root.is_file():
        raise BadInput(f"--data {spec}: is a file; give a folder of images (or class subfolders)")
    try:
        next(root.iterdir(), None)
    except PermissionError:
        raise BadInput(f"--data {spec}: folder is not readable (permission denied)") from None
    return load_folder(root, size)


__all__ = ["ImageData", "load_data", "load_mnist", "load_folder", "cache_dir", "read_idx", "resize_center_crop"]
