"""MNIST as training data: IDX files found in $GAN_CLI_DATA/mnist, then the user cache, then downloaded
(md5-checked) when online; failing all of these, the 5,000-digit subset bundled with the package (one warning).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from gan_cli import console
from gan_cli.errors import BadInput
from gan_cli.io.atomic import write_bytes
from gan_cli.io.imagecache import cache_dir

MNIST_FILES = {  # name -> md5 of the official .gz (as listed by the MNIST mirrors)
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
BUNDLED_MNIST = Path(__file__).resolve().parent.parent / "assets" / "mnist"


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


def load_mnist() -> tuple[np.ndarray, np.ndarray, str]:
    """(images uint8 (N, 28, 28), labels int64 (N,), where they came from)."""
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
    return images, labels.astype(np.int64), where
