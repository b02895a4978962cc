"""Claiming a run folder for as long as one run writes into it.

Two `gan train --out X` at once used to both write into X: checkpoints of one, metrics of both. A run now
holds an OS lock (`flock`) on `X/.lock` from before its first write to its exit; the kernel releases it
when the process dies, kill -9 included, so a killed run never leaves the folder stuck. A second run
fails at once (exit 2), naming the folder and the pid of the run that holds it.

With the lock held, nothing else can be writing there, so leftovers of a killed run are safe to remove:
the temporary files of interrupted atomic writes (`.step-0000300.k2j4x_9a.tmp.safetensors`, see
io/atomic.py) and nothing else. And a run that fails before it wrote anything worth keeping (its
validation failed on the first step, say) removes the folders it created, so no empty run is left behind.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from gan_cli import console
from gan_cli.errors import BadInput

LOCK_NAME = ".lock"
# The names io/atomic.py gives its temporary files: ".<stem>.<8 random characters of mkstemp>.tmp<suffix>".
_TEMP = re.compile(r"\.[^/]+\.[A-Za-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?")
_SUBFOLDERS = (".", "checkpoints", "samples")  # where a run writes (not below)
_NOTHING_WORTH_KEEPING = {LOCK_NAME, "config.json", "checkpoints", "samples"}  # when both folders are empty


@contextlib.contextmanager
def claim(run_dir: Path, main: bool = True) -> Iterator[None]:
    """Create `run_dir` if needed, lock it, remove stale temporary files; release on exit.

    Only the main process of a torchrun job claims the folder (the others never write there). If the
    body fails and the folder holds nothing but what a run sets up before its first sample or checkpoint,
    what this call added is removed again: the folders it created, or its entries in a folder that was there.
    """
    if not main:
        yield
        return
    created = _first_missing(run_dir)
    before = set(os.listdir(run_dir)) if created is None and run_dir.is_dir() else set()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise BadInput(f"--out {run_dir}: cannot write there ({e.strerror or e})") from None
    try:
        _lock(fd, run_dir)
        try:
            removed = remove_stale_temps(run_dir)
            if removed:
                console.info(f"removed {removed} temporary file(s) left in {run_dir} by an interrupted run")
            yield
        except BaseException:
            if _nothing_written(run_dir, before):
                _undo(run_dir, created, before)
            raise
    finally:
        os.close(fd)  # releases the lock


def _lock(fd: int, run_dir: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise BadInput(f"--out {run_dir}: cannot lock the run folder ({e.strerror or e})") from None
        pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        who = f"process {pid}" if pid.isdigit() else "another process"
        raise BadInput(
            f"{run_dir} is in use by another run ({who} is writing there): wait for it to end, or pick another --out"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)


def remove_stale_temps(run_dir: Path) -> int:
    """Delete the temporary files of interrupted atomic writes in the run folder; return how many."""
    removed = 0
    for sub in _SUBFOLDERS:
        folder = run_dir / sub
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if _TEMP.fullmatch(p.name) and p.is_file() and not p.is_symlink():
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
                    removed += 1
    return removed


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of `path` that does not exist yet (what mkdir(parents=True) would create)."""
    missing = None
    for p in (path, *path.parents):
        if p.exists():
            break
        missing = p
    return missing


def _undo(run_dir: Path, created: Path | None, before: set[str]) -> None:
    """Remove what a failed start made: the folders it created, or its entries in a folder that existed."""
    if created is not None:
        shutil.rmtree(created, ignore_errors=True)
        return
    for name in _NOTHING_WORTH_KEEPING - before:
        p = run_dir / name
        with contextlib.suppress(OSError):
            p.rmdir() if p.is_dir() else p.unlink()


def _nothing_written(run_dir: Path, before: set[str]) -> bool:
    if not set(os.listdir(run_dir)) - before <= _NOTHING_WORTH_KEEPING:
        return False
    return not any(any((run_dir / sub).iterdir()) for sub in ("checkpoints", "samples") if (run_dir / sub).is_dir())
