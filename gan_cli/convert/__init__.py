"""Converters from other projects' checkpoint formats into gan-cli checkpoints (nothing is ever executed)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pickle_head(path: Path, n: int = 1 << 20) -> bytes:
    """The first bytes of a torch file's pickle (inside the zip of torch >= 1.6, or at the start of older
    files), for cheap format sniffing by the names it holds; nothing is unpickled."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                name = next((x for x in z.namelist() if x.endswith("data.pkl")), None)
                return z.open(name).read(n) if name else b""
        with open(path, "rb") as f:
            return f.read(n)
    except (OSError, zipfile.BadZipFile):
        return b""
