"""Training data by task, from `--data` (and `--data-b`): uint8 arrays (N, H, W, C), memory-mapped.

- noise / class: "mnist" (see io/mnist.py), a folder of images (searched recursively), a folder of class
  subfolders (labels from the sorted subfolder names), or a `.npy` uint8 array (N, H, W[, C]).
- paired (pix2pix): a folder with `A/` and `B/` holding the same relative names (extensions may differ), or a
  folder of side-by-side `AB` images (split in the middle, as pix2pix's data sets ship), or `--data A_DIR
  --data-b B_DIR` paired by name. `--direction BtoA` swaps the two.
- unpaired (CycleGAN): a folder with `trainA/` and `trainB/` (or `A/` and `B/`), or `--data A_DIR --data-b B_DIR`.

Folders are decoded once into the user cache (io/imagecache.py) at the stored size, which is the training
size or, with random-crop augmentation, the larger load size. `in_memory=True` copies the arrays into RAM.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from gan_cli import console
from gan_cli.errors import BadInput
from gan_cli.io import imagecache
from gan_cli.io.imagecache import cache_dir  # noqa: F401  (re-exported: the user cache folder)
from gan_cli.io.images import is_image_path, list_images
from gan_cli.io.mnist import load_mnist, read_idx  # noqa: F401  (read_idx re-exported for benchmarks)

GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


@dataclass
class ImageSet:
    images: np.ndarray  # uint8 (N, H, W, C), in memory or memory-mapped
    names: list[str]  # relative names without extension (what pairs A with B)
    labels: np.ndarray | None = None  # int64 (N,), for class folders and MNIST
    class_names: list[str] = field(default_factory=list)
    source: str = ""

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def channels(self) -> int:
        return self.images.shape[3]

    @property
    def size(self) -> int:
        return self.images.shape[1]


@dataclass
class TrainData:
    domains: dict[str, ImageSet]  # {"x": ...} for noise/class; {"A": ..., "B": ...} for translation
    paired: bool = False  # A[i] goes with B[i] (one cursor for both)

    @property
    def main(self) -> ImageSet:
        return self.domains["B"] if "B" in self.domains else self.domains["x"]

    @property
    def channels(self) -> int:
        return self.main.channels

    @property
    def in_channels(self) -> int:
        return self.domains["A"].channels if "A" in self.domains else self.channels

    @property
    def class_names(self) -> list[str]:
        return self.main.class_names if self.main.labels is not None else []

    @property
    def source(self) -> str:
        return " | ".join(f"{k}: {v.source}" if k != "x" else v.source for k, v in self.domains.items())

    def __len__(self) -> int:
        return len(self.main)


def load_data(
    data: str,
    size: int,
    task: str = "noise",
    data_b: str | None = None,
    direction: str = "AtoB",
    in_memory: bool = False,
) -> TrainData:
    """Resolve `--data` (and `--data-b`) for a task into arrays of `size` x `size` images."""
    if task in ("noise", "class"):
        if data_b is not None:
            raise BadInput("--data-b is for translation models (paired or unpaired data)")
        out = TrainData({"x": _single(data, size)})
    elif task == "paired":
        out = TrainData(_paired(data, data_b, size), paired=True)
    else:
        out = TrainData(_unpaired(data, data_b, size))
    if direction == "BtoA" and task in ("paired", "unpaired"):
        out.domains = {"A": out.domains["B"], "B": out.domains["A"]}
    if in_memory:
        for s in out.domains.values():
            s.images = np.array(s.images)
    return out


# --- noise and class data ---------------------------------------------------------------------------
def _single(spec: str, size: int) -> ImageSet:
    if spec.strip().lower() == "mnist":
        images, labels, where = load_mnist()
        return ImageSet(
            _resize_rows(images[:, :, :, None], size),
            [str(i) for i in range(len(images))],
            labels,
            [str(i) for i in range(10)],
            f"mnist ({where}, {len(images)} digits)",
        )
    path = Path(spec)
    if path.suffix.lower() == ".npy" and path.is_file():
        return _npy(path, size)
    root = _folder(spec)
    classes = _class_folders(root)
    if classes is None:
        return _folder_set(list_images(root), root, size)
    paths = [p for c in classes for p in list_images(c)]
    s = _folder_set(paths, root, size)
    class_of = {c.name: i for i, c in enumerate(classes)}
    s.labels = np.array([class_of[n.split("/", 1)[0]] for n in s.names], dtype=np.int64)
    s.class_names = [c.name for c in classes]
    s.source = s.source[:-1] + f", {len(classes)} classes)"
    return s


def _resize_rows(rows: np.ndarray, size: int) -> np.ndarray:
    """In-memory (N, H, W, C) uint8 -> (N, size, size, C): bilinear, antialiased when shrinking."""
    if rows.shape[1] == size and rows.shape[2] == size:
        return np.ascontiguousarray(rows)
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.array(rows)).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=size < rows.shape[1])
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def _npy(path: Path, size: int) -> ImageSet:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise BadInput(f"--data {path}: not a .npy array ({e})") from None
    if not isinstance(arr, np.ndarray):  # np.load opens a zip (.npz) whatever the file is named
        arr.close()
        raise BadInput(f"--data {path}: a .npz archive, not a .npy array (save one array with numpy.save)")
    if arr.ndim == 3:
        arr = arr[:, :, :, None]
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[3] not in (1, 3) or len(arr) == 0:
        raise BadInput(
            f"--data {path}: expected uint8 images of shape (N, H, W) or (N, H, W, 1|3), got {arr.dtype} {arr.shape}"
        )
    names = [str(i) for i in range(len(arr))]
    source = f"{path} ({len(arr)} images)"
    if arr.shape[1:3] == (size, size):
        return ImageSet(arr, names, source=source)
    st = path.stat()
    key = imagecache.file_key([], path.parent, path.name, st.st_size, st.st_mtime_ns, size)
    rows, kept, _ = imagecache.build(
        key, list(arr), names, size, arr.shape[3], functools.partial(imagecache.decode_row, size=size), str(path)
    )
    return ImageSet(rows, kept, source=source)


# --- folders --------------------------------------------------------------------------------------
def _folder(spec: str, flag: str = "--data") -> Path:
    root = Path(spec)
    if not root.exists():
        raise BadInput(f"{flag} {spec}: no such folder (use 'mnist', a folder of images or a .npy array)")
    if root.is_file():
        raise BadInput(f"{flag} {spec}: is a file; give a folder of images (or class subfolders) or a .npy array")
    try:
        next(root.iterdir(), None)
    except PermissionError:
        raise BadInput(f"{flag} {spec}: folder is not readable (permission denied)") from None
    return root


def _class_folders(root: Path) -> list[Path] | None:
    """The subfolders of `root` if it is laid out as one subfolder per class (no loose images)."""
    if any(is_image_path(p) for p in root.iterdir() if p.is_file()):
        return None
    subs, seen = [], {root.resolve(), *root.resolve().parents}
    for p in sorted(root.iterdir()):  # each real folder once: a link back up (again -> .) is no class
        if p.is_dir() and not p.name.startswith(".") and p.resolve() not in seen:
            seen.add(p.resolve())
            subs.append(p)
    with_images = [s for s in subs if any(is_image_path(f.name) for f in s.rglob("*"))]
    return with_images if len(with_images) >= 2 else None


def _is_gray(paths: list[Path]) -> bool:
    for p in paths[:64]:
        try:
            with Image.open(p) as im:
                if im.mode not in GRAY_MODES:
                    return False
        except OSError:
            continue
    return True


def _stem(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def _folder_set(paths: list[Path], root: Path, size: int, part: str = "all") -> ImageSet:
    """Decode (or find in the cache) the images at `paths` below `root`."""
    mode = "L" if _is_gray(paths) else "RGB"
    channels = 1 if mode == "L" else 3
    key = imagecache.file_key(paths, root, size, mode, part)
    names = [_stem(p, root) for p in paths]
    decode = functools.partial(imagecache.decode_file, mode=mode, size=size, part=part)
    rows, kept, skipped = imagecache.build(key, paths, names, size, channels, decode, str(root))
    if skipped:
        console.warn(f"{len(skipped)} unreadable image(s) skipped in {root}")
    if not kept:
        raise BadInput(f"{root}: none of the {len(paths)} image(s) could be read")
    return ImageSet(rows, kept, source=f"{root} ({len(kept)} images)")


def _subfolders(root: Path, *pairs: tuple[str, str]) -> tuple[Path, Path] | None:
    for a, b in pairs:
        if (root / a).is_dir() and (root / b).is_dir():
            return root / a, root / b
    return None


# --- translation data -----------------------------------------------------------------------------
def _paired(spec: str, spec_b: str | None, size: int) -> dict[str, ImageSet]:
    root = _folder(spec)
    dirs = (root, _folder(spec_b, "--data-b")) if spec_b else _subfolders(root, ("A", "B"))
    if dirs is None:  # side-by-side AB images
        paths = list_images(root)
        odd = [p.name for p in paths[:2000] if _width(p) % 2]
        if odd:
            raise BadInput(
                f"--data {root}: paired data is a folder with A/ and B/ subfolders, --data-b, or side-by-side AB "
                f"images of even width; {len(odd)} image(s) have an odd width (e.g. {', '.join(odd[:3])})"
            )
        return _align(_folder_set(paths, root, size, "left"), _folder_set(paths, root, size, "right"))
    pa, pb = list_images(dirs[0]), list_images(dirs[1])
    by_a, by_b = {_stem(p, dirs[0]): p for p in pa}, {_stem(p, dirs[1]): p for p in pb}
    only_a, only_b = sorted(set(by_a) - set(by_b)), sorted(set(by_b) - set(by_a))
    if only_a or only_b:
        parts = [
            f"{len(x)} in {d} have no partner (e.g. {', '.join(x[:3])})"
            for x, d in ((only_a, dirs[0]), (only_b, dirs[1]))
            if x
        ]
        raise BadInput(f"paired data: {dirs[0]} and {dirs[1]} must hold the same names; " + "; ".join(parts))
    common = sorted(by_a)
    return _align(
        _folder_set([by_a[n] for n in common], dirs[0], size), _folder_set([by_b[n] for n in common], dirs[1], size)
    )


def _width(path: Path) -> int:
    try:
        with Image.open(path) as im:
            return im.size[0]
    except OSError:
        return 0  # unreadable: skipped (and counted) when decoded


def _align(a: ImageSet, b: ImageSet) -> dict[str, ImageSet]:
    """Keep the pairs whose two images were both readable, in the same order."""
    if a.names != b.names:
        both = set(a.names) & set(b.names)
        a = _select(a, [i for i, n in enumerate(a.names) if n in both])
        b = _select(b, [i for i, n in enumerate(b.names) if n in both])
    return {"A": a, "B": b}


def _select(s: ImageSet, idx: list[int]) -> ImageSet:
    return ImageSet(np.take(s.images, idx, axis=0), [s.names[i] for i in idx], source=s.source)


def _unpaired(spec: str, spec_b: str | None, size: int) -> dict[str, ImageSet]:
    root = _folder(spec)
    dirs = (root, _folder(spec_b, "--data-b")) if spec_b else _subfolders(root, ("trainA", "trainB"), ("A", "B"))
    if dirs is None:
        raise BadInput(
            f"--data {spec}: unpaired data needs two domains: a folder with trainA/ and trainB/ (or A/ and B/), "
            "or --data A_DIR --data-b B_DIR"
        )
    return {
        "A": _folder_set(list_images(dirs[0]), dirs[0], size),
        "B": _folder_set(list_images(dirs[1]), dirs[1], size),
    }
