"""`gan translate MODEL IN OUT`: run a translation model (pix2pix, CycleGAN, ...) over image files."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from gan_cli import console
from gan_cli.device import DEVICE_HELP, resolve_device
from gan_cli.errors import BadInput, RuntimeFailure

HELP = """Translate images with a trained or converted model: one image, a folder (recursively) or - (paths on stdin).

OUT mirrors IN's sub-folders and file stems ([bold].png[/] by default, see --ext); when IN is one image, OUT may
be a file name. Any input size works: each image is resized to --size (default: the model's training size)
and the result resized back, or with --keep-size translated at its own size (padded to what the network
needs, then cropped). Grey, RGBA (alpha put back), palette and 16-bit inputs are converted; EXIF
orientation is applied. Written paths go to stdout, a progress bar to stderr. Existing outputs are skipped
unless --overwrite; an unreadable input is skipped with a warning and the exit code is 1.
Without --weights, uses the newest runs/MODEL-NNN.

Face models (photo2cartoon) run [bold]gan prep[/] first: each detected face is aligned, segmented and
translated, and the result is put on white through its mask (OUT/stem.png, or stem_0.png, stem_1.png, ...
for several faces). --paste-back puts every face's result back onto the photo instead (one output per
photo); --save-prep DIR keeps the prepared faces; --no-prep takes inputs that are prepared already.
A photo without a face is skipped with a warning (exit code 1).

[bold]Examples[/]

  gan translate pix2pix photos/ out/
  gan translate cyclegan horses/ zebras/ --direction AtoB --keep-size
  gan translate --weights horse2zebra.safetensors horse.jpg zebra.jpg
  find shots -name '*.png' | gan translate pix2pix - out/ --ext jpg
  gan translate photo2cartoon photos/ cartoons/
  gan translate --weights p2c.safetensors group.jpg out/ --paste-back
"""


def register(app: typer.Typer) -> None:
    app.command("translate", help=HELP, no_args_is_help=True)(translate_cmd)


def translate_cmd(
    args: list[str] = typer.Argument(
        ..., help="[MODEL] IN OUT: MODEL is optional with --weights.", metavar="[MODEL] IN OUT"
    ),
    weights: Path = typer.Option(
        None,
        "--weights",
        "-w",
        help="Checkpoint (.safetensors), run folder or pretrained name (gan models --pretrained).",
    ),
    direction: str = typer.Option("AtoB", "--direction", help="AtoB or BtoA (CycleGAN-like models have both)."),
    size: int = typer.Option(None, "--size", min=1, help="Resize inputs to this square size (default: the model's)."),
    keep_size: bool = typer.Option(False, "--keep-size", help="Translate at each input's own size (padded, cropped)."),
    batch_size: int = typer.Option(4, "--batch-size", "-b", min=1, help="Images per network call."),
    ext: str = typer.Option("png", "--ext", help="Output format for folders: png, jpg, webp or bmp."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Rewrite existing outputs (and allow OUT inside IN)."),
    test_mode: str = typer.Option(
        None, "--test-mode", help="pix2pix/CycleGAN: eval, dropout or reference (default: the checkpoint's)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the dropout masks (test modes dropout and reference)."),
    workers: int = typer.Option(0, "--workers", min=0, help="Decode/encode threads (default: up to 4)."),
    no_prep: bool = typer.Option(False, "--no-prep", help="Face models: the inputs are already prepared faces."),
    paste_back: bool = typer.Option(False, "--paste-back", help="Face models: paste each result onto the photo."),
    save_prep: Path = typer.Option(None, "--save-prep", help="Face models: also keep the prepared faces here."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
) -> None:
    import torch

    from gan_cli.registry import get_family
    from gan_cli.sampling import check_sample_options, load_model
    from gan_cli.train.config import resolve_checkpoint
    from gan_cli.translate import Translator, plan

    if len(args) not in (2, 3) or (len(args) == 2 and weights is None):
        raise BadInput("give MODEL IN OUT, or --weights CKPT IN OUT")
    model, inp, out = (None, *args) if len(args) == 2 else args
    if size is not None and keep_size:
        raise BadInput("give --size or --keep-size, not both")
    path, _ = resolve_checkpoint(weights, get_family(model).name if model else None)
    if weights is None:
        console.info(f"using {path}")
    jobs = plan(inp, Path(out), ext, overwrite, sys.stdin.read().splitlines() if inp == "-" else ())
    loaded = load_model(path, resolve_device(device), expect=model)
    if loaded.family.face_prep and not no_prep:
        if size is not None or keep_size:
            raise BadInput(
                f"{loaded.family.name} prepares faces at {loaded.family.size} px: --size and --keep-size "
                "are for --no-prep"
            )
        return _faces(loaded, jobs, direction, paste_back, save_prep, overwrite)
    if paste_back or save_prep is not None:
        raise BadInput(
            f"--paste-back and --save-prep are for face models with prep (photo2cartoon), not "
            f"{loaded.family.name}{' with --no-prep' if no_prep else ''}"
        )
    opts = check_sample_options(loaded.family, {"test_mode": test_mode})
    translator = Translator(loaded, direction, None if keep_size else (size or -1), batch_size, workers, opts)
    torch.manual_seed(seed)
    report = translator.run(jobs, overwrite, on_written=lambda p: console.out(str(p)))
    if report.skipped_existing:
        console.info(f"{report.skipped_existing} existing output(s) kept (use --overwrite to rewrite them)")
    if report.failed:
        raise RuntimeFailure(f"{len(report.failed)} of {len(jobs)} input(s) could not be translated (see warnings)")


def _faces(loaded, jobs, direction: str, paste_back: bool, save_prep: Path | None, overwrite: bool) -> None:
    from gan_cli.facetranslate import FaceTranslator

    translator = FaceTranslator(loaded, direction, paste_back, save_prep)
    try:
        report = translator.run(jobs, overwrite, on_written=lambda p: console.out(str(p)))
    finally:
        translator.close()
    console.info(
        f"{report.faces} face(s) in {len(jobs)} photo(s): prep {report.seconds_prep:.1f} s, "
        f"network {report.seconds_net:.1f} s"
    )
    if report.skipped_existing:
        console.info(f"{report.skipped_existing} existing output(s) kept (use --overwrite to rewrite them)")
    bad = len(report.no_face) + len(report.failed)
    if bad:
        raise RuntimeFailure(f"{bad} of {len(jobs)} photo(s) gave no cartoon ({len(report.no_face)} without a face)")
