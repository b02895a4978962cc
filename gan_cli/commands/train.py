"""`gan train MODEL --data DATA`: train a family; the last stdout line is the final checkpoint's path."""

from __future__ import annotations

import math
import os
from pathlib import Path

import typer

from gan_cli import console
from gan_cli.device import DEVICE_HELP, resolve_device
from gan_cli.errors import BadInput

HELP = """Train a GAN. Writes a run folder: config.json, metrics.jsonl, losses.png, samples/step-*.png
(fixed-noise grids), checkpoints/step-*.safetensors (full state, resumable) and generator.safetensors.
The last line on stdout is the final checkpoint, so [bold]ckpt=$(gan train ...)[/] works.

Family options go through [bold]-o key=value[/] (see [bold]gan models --options[/]).
Runs under [bold]torchrun --nproc_per_node=K[/] as data parallel. Ctrl-C saves a checkpoint first.

[bold]Examples[/]

  gan train dcgan --data mnist
  gan train wgan-gp --data faces/ --size 64 --steps 20000 -o n_critic=5
  gan train cgan --data mnist --epochs 5 --out runs/digits
  gan train dcgan --data mnist --resume runs/dcgan-001 --steps 6000
"""


def register(app: typer.Typer) -> None:
    app.command("train", help=HELP, no_args_is_help=True)(train_cmd)


def train_cmd(
    model: str = typer.Argument(..., help="Model family (see `gan models`)."),
    data: str = typer.Option(
        None, "--data", "-d", help="'mnist', a folder of images, or a folder of class subfolders."
    ),
    out: Path = typer.Option(None, "--out", help="Run folder (default: runs/<model>-NNN)."),
    steps: int = typer.Option(None, "--steps", min=1, help="Total generator steps (default: the family's)."),
    epochs: float = typer.Option(
        None, "--epochs", min=0, help="Train this many passes over the data instead of --steps."
    ),
    batch_size: int = typer.Option(None, "--batch-size", "-b", min=1, help="Global batch size (default: 64)."),
    lr: float = typer.Option(None, "--lr", min=0, help="Learning rate (default: the family's)."),
    size: int = typer.Option(None, "--size", help="Image size in pixels (default: the family's, 32)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same seed, same run."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    resume: Path = typer.Option(None, "--resume", help="Continue the run in this folder (or from this checkpoint)."),
    option: list[str] = typer.Option(None, "--option", "-o", help="Family option key=value (repeatable)."),
    sample_every: int = typer.Option(None, "--sample-every", min=1, help="Steps between sample grids (default: 500)."),
    ckpt_every: int = typer.Option(None, "--ckpt-every", min=1, help="Steps between checkpoints (default: 1000)."),
    amp: str = typer.Option(
        "auto", "--amp", help="Mixed precision: auto (on for CUDA and CPUs with bf16 instructions), on, off."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    from gan_cli.io import checkpoint as ckpt
    from gan_cli.io.datasets import load_data
    from gan_cli.registry import get_family, parse_options
    from gan_cli.train.config import TrainConfig, checkpoints_in, next_run_dir
    from gan_cli.train.loop import train

    fam = get_family(model)
    if amp not in ("auto", "on", "off"):
        raise BadInput(f"--amp {amp}: use auto, on or off")
    if steps is not None and epochs is not None:
        raise BadInput("give --steps or --epochs, not both")
    dev = resolve_device(device)

    resume_ckpt = None
    if resume is not None:
        resume_ckpt, run_dir = _find_resume(resume, checkpoints_in)
        meta = ckpt.read_meta(resume_ckpt)
        if meta.get("family") != fam.name:
            raise BadInput(f"{resume_ckpt} is a {meta.get('family')} checkpoint, not {fam.name}")
        cfg = TrainConfig(**meta["train"])
        if option:
            raise BadInput("-o cannot change a resumed run's options")
        cfg.data = data or cfg.data
    else:
        if data is None:
            raise BadInput("--data is required (mnist, or a folder of images)")
        opts = parse_options(fam, option)
        cfg = TrainConfig(
            model=fam.name,
            data=data,
            options=_asdict(opts),
            size=size or fam.default_size,
            steps=fam.default_steps,
            batch_size=batch_size or fam.default_batch_size,
            lr=fam.default_lr if lr is None else lr,
            seed=seed,
            amp=amp,
        )
        run_dir = out or next_run_dir(fam.name)
        if run_dir.exists() and checkpoints_in(run_dir):
            raise BadInput(f"{run_dir} already holds a run: continue it with --resume {run_dir}, or pick another --out")
        _check_writable(run_dir)
    for name, value in (("sample_every", sample_every), ("ckpt_every", ckpt_every)):
        if value is not None:
            setattr(cfg, name, value)
    if amp != "auto":
        cfg.amp = amp

    dataset = load_data(cfg.data, cfg.size)
    family_probe = fam(
        parse_options(fam, None, cfg.options),
        cfg.size,
        dataset.channels,
        len(dataset.class_names) if dataset.labels is not None else 0,
    )
    if epochs is not None:
        per_step = cfg.batch_size * family_probe.batches_per_step()
        cfg.steps = max(1, math.ceil(epochs * len(dataset) / per_step))
    elif steps is not None:
        cfg.steps = steps
    main_rank = os.environ.get("RANK", "0") == "0"  # under torchrun, rank 0 alone reports
    if main_rank:
        console.info(
            f"training {fam.name} on {dataset.source} at {cfg.size}px, {cfg.steps} steps, batch "
            f"{cfg.batch_size}, device {dev.type} -> {run_dir}"
        )
    final = train(cfg, dataset, run_dir, dev, resume=resume_ckpt, quiet=quiet)
    if main_rank:
        console.info(f"done: samples in {run_dir / 'samples'}, loss plot {run_dir / 'losses.png'}")
        console.out(str(final))


def _asdict(opts: object) -> dict:
    import dataclasses

    return dataclasses.asdict(opts)  # type: ignore[arg-type]


def _find_resume(path: Path, checkpoints_in) -> tuple[Path, Path]:
    if path.is_file():
        return path, path.parent.parent if path.parent.name == "checkpoints" else path.parent
    if not path.is_dir():
        raise BadInput(f"--resume {path}: no such run folder or checkpoint")
    found = checkpoints_in(path)
    if not found:
        raise BadInput(f"--resume {path}: no checkpoints/step-*.safetensors in this folder")
    return found[-1], path


def _check_writable(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise BadInput(f"--out {run_dir}: cannot write there ({e.strerror or e})") from None
