"""`gan prep`: photos in, aligned and segmented face squares out (see gan_cli.faces)."""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from gan_cli import console
from gan_cli.errors import BadInput

if TYPE_CHECKING:
    from PIL import Image

    from gan_cli.faces.prep import PrepResult

HELP = """Find, align and cut out faces: photos in, square portraits out (the input photo2cartoon expects).

IN is an image, a folder (searched recursively) or - (image paths on stdin, one a line). \
OUT is a folder: each output keeps its input's relative path and stem, as PNG, beside a \
STEM.json sidecar (detection score, keypoints, and the 2x3 affine that pastes it back onto the photo).

Faces are found with MediaPipe's BlazeFace models (bundled: works offline), rotated so the eyes \
are level, scaled and cropped to a fixed template, and cut out with MediaPipe's selfie segmentation. \
Photos without a face, or unreadable ones in a folder, are reported and skipped: the others are \
still written, and the exit status is 1. stdout: the written paths, or one JSON object each with --json.

[bold]Examples[/]

  gan prep selfie.jpg faces/
  gan prep photos/ faces/ --size 512 --bg transparent
  gan prep group.jpg faces/ --all-faces --json
  find photos -name '*.jpg' | gan prep - faces/
"""


class Background(str, Enum):
    white = "white"
    keep = "keep"
    transparent = "transparent"


@dataclass
class Job:
    source: Path
    base: Path  # output path without extension


@dataclass
class Tally:
    done: int = 0
    no_face: int = 0
    unreadable: int = 0
    written: int = 0

    @property
    def skipped(self) -> int:
        return self.no_face + self.unreadable


def register(app: typer.Typer) -> None:
    app.command("prep", help=HELP)(prep_cmd)


def prep_cmd(
    src: str = typer.Argument(..., metavar="IN", help="Image, folder (recursive) or - for paths on stdin."),
    out: Path = typer.Argument(..., metavar="OUT", help="Output folder."),
    size: int = typer.Option(256, "--size", min=32, max=4096, help="Side of the square outputs, in pixels."),
    bg: Background = typer.Option(
        Background.white, "--bg", help="Background: white, keep (the photo) or transparent (RGBA PNG)."
    ),
    all_faces: bool = typer.Option(
        False, "--all-faces", help="Write every face: STEM_0, STEM_1, ... (largest first)."
    ),
    margin: float = typer.Option(
        1.0, "--margin", min=0.5, max=3.0, help="Room around the face: 1 is the template, 1.5 zooms out."
    ),
    min_score: float = typer.Option(0.5, "--min-score", min=0.05, max=0.99, help="Detection threshold."),
    detector_model: Path = typer.Option(
        None, "--detector-model", help="BlazeFace .tflite to use instead of the bundled pair."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per written face on stdout."),
) -> None:
    from gan_cli.faces.prep import FacePrep

    jobs = gather(src, out)
    check_outputs(src, out, jobs, all_faces)
    single = src != "-" and not Path(src).is_dir()
    tally = Tally()
    with (
        FacePrep(size, bg.value, all_faces, margin, min_score, detector_model) as prep,
        _progress(len(jobs)) as bar,
    ):
        for job in jobs:
            img = _load(job, single, tally)
            results = prep.process(img) if img is not None else []
            if img is not None and not results:
                console.warn(f"no face found, skipped: {job.source}")
                tally.no_face += 1
            for r in results:
                _write(job, r, all_faces, as_json)
                tally.written += 1
            tally.done += bool(results)
            bar()
    console.info(
        f"prep: {tally.done} done, {tally.skipped} skipped ({tally.no_face} without a face, "
        f"{tally.unreadable} unreadable); {tally.written} face(s) written to {out}"
    )
    if tally.skipped:
        raise typer.Exit(1)


def _load(job: Job, single: bool, tally: Tally) -> Image.Image | None:
    """The photo; in a batch an unreadable one is reported and counted (None), a single IN is exit 2."""
    from gan_cli.io.images import load_image

    try:
        return load_image(job.source, "RGB")
    except BadInput as e:
        if single:
            raise
        console.warn(f"unreadable, skipped: {e}")
        tally.unreadable += 1
        return None


def gather(src: str, out: Path) -> list[Job]:
    """Inputs and where their outputs go (OUT / relative path / stem), from a file, folder or stdin."""
    from gan_cli.io.images import list_images

    if src == "-":
        paths = [Path(line.strip()) for line in sys.stdin if line.strip()]
        if not paths:
            raise BadInput("IN is -, but no paths came on stdin")
        root = Path(os.path.commonpath([os.path.abspath(p.parent) for p in paths]))
        return [Job(p, out / Path(os.path.abspath(p)).relative_to(root).with_suffix("")) for p in paths]
    path = Path(src)
    if path.is_dir():
        return [Job(p, out / p.relative_to(path).with_suffix("")) for p in list_images(path)]
    if not path.exists():
        raise BadInput(f"{path}: no such file or folder")
    return [Job(path, out / path.stem)]


def _real(p: Path) -> Path:
    return Path(os.path.realpath(p))


def check_outputs(src: str, out: Path, jobs: list[Job], all_faces: bool) -> None:
    """Refuse an OUT that would overwrite or mix with the inputs, before anything is written."""
    if out.exists() and not out.is_dir():
        if src != "-" and _real(out) == _real(Path(src)):
            raise BadInput(f"OUT {out} is the input image; OUT must be a folder")
        raise BadInput(f"OUT {out}: exists and is not a folder")
    if src != "-" and Path(src).is_dir():
        real_in, real_out = _real(Path(src)), _real(out)
        if real_out == real_in or real_in in real_out.parents:
            raise BadInput(
                f"OUT {out} is IN or inside it: outputs would mix with the photos (and be read as inputs "
                "next time); choose a folder outside IN"
            )
    seen: dict[Path, Path] = {}
    for job in jobs:
        key = _real(job.base.parent) / job.base.name
        if key in seen:
            raise BadInput(f"{seen[key]} and {job.source} would both become {job.base}.png; rename one")
        seen[key] = job.source
    inputs = {_real(j.source) for j in jobs}
    for key in seen:
        pattern = re.compile(re.escape(key.name) + (r"(_\d+)?" if all_faces else "") + r"\.(png|json)")
        clash = next((p for p in inputs if p.parent == key.parent and pattern.fullmatch(p.name)), None)
        if clash is not None:
            raise BadInput(f"an output would overwrite the input {clash}; choose another OUT")


def _write(job: Job, result: PrepResult, all_faces: bool, as_json: bool) -> None:
    from gan_cli.io.atomic import write_text
    from gan_cli.io.images import save_image

    base = job.base.with_name(f"{job.base.name}_{result.index}") if all_faces else job.base
    png = base.with_name(base.name + ".png")
    record = {"path": str(png), "source": str(job.source), **result.sidecar()}
    save_image(result.image, png)
    lines = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in record.items())
    write_text(base.with_name(base.name + ".json"), "{\n" + lines + "\n}\n")
    console.out(json.dumps(record) if as_json else str(png))


class _progress:
    """A rich progress bar on stderr for many photos on a terminal; a no-op otherwise.

    Refreshed by hand between photos (never from a timer thread), so nothing is drawn while
    MediaPipe's native logging is routed to /dev/null.
    """

    def __init__(self, total: int) -> None:
        self.total, self.bar = total, None

    def __enter__(self) -> _progress:
        con = console.console()
        if self.total > 1 and con.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("prep"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                console=con, auto_refresh=False, transient=True,
            )  # fmt: skip
            self.bar.start()
            self.task = self.bar.add_task("prep", total=self.total)
        return self

    def __call__(self) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, refresh=True)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
