"""The library side of `gan translate`: which files to read and write, and a batched, threaded pipeline.

Planning (`plan`): IN is an image, a folder (walked recursively) or "-" (paths on stdin); outputs mirror
the inputs' relative paths and stems under OUT (stdin paths: relative to their deepest common folder),
with the chosen extension. Refused before any work: two inputs that would write the same file, an output
that is an input, and OUT equal to or inside IN unless --overwrite is given (then only when no name
collides). Existing outputs are skipped unless --overwrite.

Running (`Translator.run`): decoder threads read, orient (EXIF), convert (16-bit, palette, grey or colour
as the model's input; an alpha channel is kept aside) and size each image; the main thread batches
consecutive images of the same shape through the network; encoder threads size the result back to the
input's size, put the alpha back and write it atomically. PIL and the network release the GIL, so decoding
and encoding overlap the network. Size modes:
- size=S (default: the model's training size): resized to S x S (bicubic, as junyanz's test transform),
  translated, resized back to the input's size;
- size=None (--keep-size): reflection-padded up to what the generator needs (`size_multiple()`), translated
  at the input's own resolution, cropped back.
An unreadable input is skipped with a warning and counted; the others are written.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from gan_cli import console
from gan_cli.errors import BadInput
from gan_cli.io.images import SAVE_FORMATS, is_image_path, list_images, save_image, to_mode
from gan_cli.sampling import LoadedModel

EXTENSIONS = ("png", "jpg", "webp", "bmp")
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


@dataclass
class Job:
    src: Path
    dst: Path


# --- planning -------------------------------------------------------------------------------------
def plan(inp: str, out: Path, ext: str = "png", overwrite: bool = False, lines: Iterable[str] = ()) -> list[Job]:
    """The (input, output) pairs for IN and OUT; `lines` are the paths read from stdin when IN is "-"."""
    if ext.lower().lstrip(".") not in (*EXTENSIONS, "jpeg"):
        raise BadInput(f"--ext {ext}: use one of {', '.join(EXTENSIONS)}")
    suffix = "." + ext.lower().lstrip(".")
    if inp == "-":
        srcs = [Path(s) for s in (line.strip() for line in lines) if s]
        if not srcs:
            raise BadInput("IN is - but no paths came on stdin (one image path per line)")
        _need_folder(out)
        root = Path(os.path.commonpath([os.path.abspath(p.parent) for p in srcs]))
        jobs = [Job(p, out / Path(os.path.abspath(p)).relative_to(root).with_suffix(suffix)) for p in srcs]
    else:
        src = Path(inp)
        if not src.exists():
            raise BadInput(f"{src}: no such file or folder")
        if src.is_file():
            if is_image_path(out):
                if out.suffix.lower() not in SAVE_FORMATS:
                    raise BadInput(f"{out}: unsupported image extension (use one of {', '.join(SAVE_FORMATS)})")
                jobs = [Job(src, out)]
            else:
                _need_folder(out)
                jobs = [Job(src, out / (src.stem + suffix))]
        else:
            _need_folder(out)
            _not_inside(src, out, overwrite)
            jobs = [Job(p, out / p.relative_to(src).with_suffix(suffix)) for p in list_images(src)]
    _check_names(jobs)
    return jobs


def _need_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise BadInput(f"{out}: exists and is not a folder (OUT is a folder unless IN is one image)")


def _not_inside(src: Path, out: Path, overwrite: bool) -> None:
    a, b = src.resolve(), out.resolve()
    if (a == b or a in b.parents) and not overwrite:
        where = "is IN" if a == b else "is inside IN"
        raise BadInput(f"OUT {out} {where}: gan translate does not write into its input (pick another OUT)")


def _check_names(jobs: list[Job]) -> None:
    srcs = {j.src.resolve() for j in jobs}
    seen: dict[Path, Path] = {}
    for j in jobs:
        dst = j.dst.resolve()
        if dst in srcs:
            raise BadInput(f"{j.dst} is an input: gan translate never overwrites an input (pick another OUT or --ext)")
        if dst in seen:
            raise BadInput(f"{seen[dst]} and {j.src} would both be written to {j.dst} (rename one, or pick --ext)")
        seen[dst] = j.src


# --- one image in, one image out ------------------------------------------------------------------
@dataclass
class Item:
    job: Job
    x: torch.Tensor  # (C, H, W) in [-1, 1], at the network's size
    size: tuple[int, int]  # the input's (width, height), after EXIF orientation
    crop: tuple[int, int] | None  # (top, left) of the input inside the padded tensor (--keep-size)
    alpha: Image.Image | None  # the input's alpha channel, put back on the output


def read(path: Path, mode: str) -> tuple[Image.Image, Image.Image | None]:
    """(image in `mode`, alpha or None): EXIF orientation applied, 16-bit and palette converted, alpha kept aside."""
    with Image.open(path) as im:
        im.load()
        im = ImageOps.exif_transpose(im) or im
        has_alpha = im.mode in ALPHA_MODES or (im.mode == "P" and "transparency" in im.info)
        alpha = im.convert("RGBA").getchannel("A") if has_alpha else None
        return to_mode(im, mode), alpha


def pad_to(arr: np.ndarray, multiple: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Reflection-pad (H, W, C) so H and W are multiples of `multiple`, about centred; (padded, (top, left))."""
    h, w = arr.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    top, left = ph // 2, pw // 2
    mode = "reflect" if min(h, w) > 1 else "edge"
    return np.pad(arr, ((top, ph - top), (left, pw - left), (0, 0)), mode=mode), (top, left)


@dataclass
class Report:
    written: list[Path] = field(default_factory=list)
    skipped_existing: int = 0
    failed: list[str] = field(default_factory=list)  # "path: reason"


class Translator:
    """Runs a loaded translation model over files: decode threads -> batched network -> encode threads."""

    def __init__(
        self,
        model: LoadedModel,
        direction: str = "AtoB",
        size: int | None = -1,
        batch_size: int = 4,
        workers: int = 0,
        opts: dict[str, Any] | None = None,
    ) -> None:
        fam = model.family
        if fam.task not in ("paired", "unpaired"):
            raise BadInput(f"{model.path}: a {fam.name} checkpoint generates from noise; use gan sample")
        if direction not in fam.directions():
            raise BadInput(f"{fam.name} translates {' and '.join(fam.directions())}, not {direction}")
        self.model, self.direction, self.batch_size, self.opts = model, direction, max(1, batch_size), opts or {}
        self.multiple = fam.size_multiple()
        self.size = fam.size if size == -1 else size
        if self.size is not None and (self.size < 1 or self.size % self.multiple):
            raise BadInput(f"--size {self.size}: this {fam.name} generator needs a multiple of {self.multiple}")
        in_ch, out_ch = (fam.in_channels, fam.channels) if direction == "AtoB" else (fam.channels, fam.in_channels)
        self.in_mode, self.out_mode = ("L" if in_ch == 1 else "RGB"), ("L" if out_ch == 1 else "RGB")
        self.workers = workers or min(4, os.cpu_count() or 1)

    def prepare(self, job: Job) -> Item:
        img, alpha = read(job.src, self.in_mode)
        size = img.size
        if self.size is not None:
            if img.size != (self.size, self.size):
                img = img.resize((self.size, self.size), Image.Resampling.BICUBIC)
            arr, crop = np.asarray(img), None
        else:
            arr = np.asarray(img)
            arr, crop = pad_to(arr[:, :, None] if arr.ndim == 2 else arr, self.multiple)
        arr = arr[:, :, None] if arr.ndim == 2 else arr
        x = torch.from_numpy(np.array(arr)).permute(2, 0, 1).float().div_(127.5).sub_(1.0)
        return Item(job, x, size, crop, alpha)

    def finish(self, item: Item, y: torch.Tensor) -> Path:
        w, h = item.size
        if item.crop is not None:
            top, left = item.crop
            y = y[:, top : top + h, left : left + w]
        arr = np.ascontiguousarray(y.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).permute(1, 2, 0).numpy())
        img = Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr, self.out_mode)
        if img.size != (w, h):
            img = img.resize((w, h), Image.Resampling.BICUBIC)
        if item.alpha is not None:
            img = img.convert("LA" if self.out_mode == "L" else "RGBA")
            img.putalpha(item.alpha)
        return save_image(img, item.job.dst)

    def run(self, jobs: list[Job], overwrite: bool = False, on_written: Callable[[Path], None] | None = None) -> Report:
        """Translate every job (skipping existing outputs unless overwrite); outputs reported in input order."""
        report = Report()
        todo = [j for j in jobs if overwrite or not j.dst.exists()]
        report.skipped_existing = len(jobs) - len(todo)
        with ThreadPoolExecutor(self.workers) as pool, _progress(len(todo)) as advance:
            saves: deque[tuple[Job, Future]] = deque()
            for batch in self._batches(pool, todo, report, advance):
                with torch.no_grad():
                    ys = self.model.translate(torch.stack([it.x for it in batch]), self.direction, **self.opts)
                saves.extend((it.job, pool.submit(self.finish, it, y)) for it, y in zip(batch, ys))
                while saves and (saves[0][1].done() or len(saves) > 4 * self.batch_size):
                    self._collect(*saves.popleft(), report, on_written, advance)
            while saves:
                self._collect(*saves.popleft(), report, on_written, advance)
        return report

    def _batches(self, pool: ThreadPoolExecutor, jobs: list[Job], report: Report, advance) -> Iterator[list[Item]]:
        """Consecutive readable items of the same shape, at most batch_size; decoding runs ahead in the pool."""
        ahead = 2 * self.batch_size + self.workers
        pending: deque[tuple[Job, Future]] = deque()
        it = iter(jobs)
        batch: list[Item] = []
        while True:
            while len(pending) < ahead and (job := next(it, None)) is not None:
                pending.append((job, pool.submit(self.prepare, job)))
            if not pending:
                break
            job, fut = pending.popleft()
            try:
                item = fut.result()
            except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
                reason = "no such file" if isinstance(e, FileNotFoundError) else f"{type(e).__name__}: {e}"
                console.warn(f"skipped {job.src}: not a readable image ({reason})")
                report.failed.append(f"{job.src}: {reason}")
                advance()
                continue
            if batch and (len(batch) == self.batch_size or batch[0].x.shape != item.x.shape):
                yield batch
                batch = []
            batch.append(item)
        if batch:
            yield batch

    def _collect(self, job: Job, fut: Future, report: Report, on_written, advance) -> None:
        try:
            path = fut.result()
        except (OSError, BadInput) as e:
            console.warn(f"could not write {job.dst}: {e}")
            report.failed.append(f"{job.dst}: {e}")
        else:
            report.written.append(path)
            if on_written is not None:
                on_written(path)
        advance()


class _progress:
    """A rich progress bar on stderr when it is a terminal; a no-op otherwise. Yields advance()."""

    def __init__(self, total: int) -> None:
        self.total, self.bar = total, None

    def __enter__(self) -> Callable[[], None]:
        if not console.console().is_terminal or self.total == 0:
            return lambda: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("translate"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console.console()
        )
        self.bar.__enter__()
        task = self.bar.add_task("translate", total=self.total)
        return lambda: self.bar.advance(task)

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
