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
  gan train dcgan --resume runs/dcgan-001 --steps 6000
  gan train photo2cartoon --data kids/ --init runs/photo2cartoon-001 --steps 2000   # fine-tune
  gan train dcgan --data faces.npy --size 64                   # uint8 array (N, H, W, C)
"""


def register(app: typer.Typer) -> None:
    app.command("train", help=HELP, no_args_is_help=True)(train_cmd)


def train_cmd(
    model: str = typer.Argument(..., help="Model family (see `gan models`)."),
    data: str = typer.Option(
        None,
        "--data",
        "-d",
        help="'mnist', a folder of images or class subfolders, a .npy array, or translation "
        "data (A/ and B/, trainA/ and trainB/, or side-by-side AB images).",
    ),
    data_b: str = typer.Option(None, "--data-b", help="Domain B folder for translation models (paired by name)."),
    direction: str = typer.Option(None, "--direction", help="Translation data direction: AtoB (default) or BtoA."),
    out: Path = typer.Option(None, "--out", help="Run folder (default: runs/<model>-NNN)."),
    steps: int = typer.Option(None, "--steps", min=1, help="Total generator steps (default: the family's)."),
    epochs: float = typer.Option(
        None, "--epochs", min=0, help="Train this many passes over the data instead of --steps."
    ),
    batch_size: int = typer.Option(None, "--batch-size", "-b", min=1, help="Global batch size (default: 64)."),
    lr: float = typer.Option(None, "--lr", min=0, help="Learning rate (default: the family's)."),
    size: int = typer.Option(None, "--size", help="Image size in pixels (default: the family's, 32)."),
    load_size: int = typer.Option(None, "--load-size", help="Store images at this size and random-crop to --size."),
    flip: bool = typer.Option(None, "--flip/--no-flip", help="Random horizontal flips (default: the family's)."),
    seed: int = typer.Option(None, "--seed", help="Random seed: same seed, same run (default 0)."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    resume: Path = typer.Option(None, "--resume", help="Continue the run in this folder (or from this checkpoint)."),
    init: str = typer.Option(
        None,
        "--init",
        help="Start a new run (fresh optimizers, step 0, this --data) from the weights of this checkpoint, run "
        "folder or pretrained name: fine-tuning. Same family and architecture; the size may differ only where "
        "the weights allow it.",
    ),
    option: list[str] = typer.Option(None, "--option", "-o", help="Family option key=value (repeatable)."),
    sample_every: int = typer.Option(None, "--sample-every", min=1, help="Steps between sample grids (default: 500)."),
    ckpt_every: int = typer.Option(None, "--ckpt-every", min=1, help="Steps between checkpoints (default: 1000)."),
    amp: str = typer.Option(
        None, "--amp", help="Mixed precision: auto (default: on for CUDA and CPUs with bf16 instructions), on, off."
    ),
    in_memory: bool = typer.Option(False, "--in-memory", help="Copy the data set into RAM instead of memory-mapping."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    tensorboard: bool = typer.Option(
        False, "--tensorboard", help="Also write losses, img/s and previews as TensorBoard event files in the run "
        "folder (needs: pip install 'gan-cli\\[tensorboard]')."
    ),
) -> None:
    from gan_cli.io.datasets import load_data
    from gan_cli.memory import check_fits
    from gan_cli.registry import get_family, parse_options
    from gan_cli.train.config import TrainConfig, checkpoints_in, next_run_dir
    from gan_cli.train.finetune import check_init
    from gan_cli.train.loop import train
    from gan_cli.train.runfolder import claim
    from gan_cli.train.tensorboard import check_available

    fam = get_family(model)
    if amp not in (None, "auto", "on", "off"):
        raise BadInput(f"--amp {amp}: use auto, on or off")
    if direction not in (None, "AtoB", "BtoA"):
        raise BadInput(f"--direction {direction}: use AtoB or BtoA")
    if steps is not None and epochs is not None:
        raise BadInput("give --steps or --epochs, not both")
    if epochs is not None and epochs <= 0:
        raise BadInput(f"--epochs must be more than 0 (got {epochs})")
    dev = resolve_device(device)
    if tensorboard:
        check_available()
    flags = {
        "data": data,
        "data_b": data_b,
        "direction": direction,
        "lr": lr,
        "batch_size": batch_size,
        "amp": amp,
        "size": size,
        "seed": seed,
        "load_size": load_size,
        "flip": flip,
    }
    resume_ckpt = init_ckpt = None
    if resume is not None and init is not None:
        raise BadInput("give --resume (continue a run) or --init (a new run from a checkpoint's weights), not both")
    if resume is not None:
        cfg, resume_ckpt, run_dir = _resumed_config(resume, fam, flags, option, out)
    else:
        if data is None:
            raise BadInput("--data is required (mnist, a folder of images, or a .npy array)")
        if size is not None and size not in fam.sizes:
            raise BadInput(f"{fam.name} supports image sizes {', '.join(map(str, fam.sizes))}, not {size}")
        init_meta: dict = {}
        if init is not None:
            init_ckpt, init_meta = _init_checkpoint(init, fam.name)
        opts = parse_options(fam, option, init_meta.get("options"))
        size = size or init_meta.get("size") or fam.default_size
        ratio = fam.augment.load_ratio
        cfg = TrainConfig(
            model=fam.name,
            data=data,
            data_b=data_b,
            direction=direction or "AtoB",
            options=_asdict(opts),
            size=size,
            steps=fam.default_steps,
            batch_size=batch_size or fam.default_batch_size,
            lr=fam.default_lr if lr is None else lr,
            seed=seed or 0,
            amp=amp or "auto",
            load_size=load_size if load_size is not None else (round(size * ratio) if ratio > 1 else 0),
            flip=fam.augment.flip if flip is None else flip,
            init=None if init_ckpt is None else str(init_ckpt),
        )
        if cfg.load_size and cfg.load_size < cfg.size:
            raise BadInput(f"--load-size {cfg.load_size} is smaller than --size {cfg.size}")
        run_dir = out or next_run_dir(fam.name)
        if run_dir.exists() and checkpoints_in(run_dir):
            raise BadInput(f"{run_dir} already holds a run: continue it with --resume {run_dir}, or pick another --out")
    for name, value in (("sample_every", sample_every), ("ckpt_every", ckpt_every)):
        if value is not None:
            setattr(cfg, name, value)
    cfg.in_memory = in_memory

    dataset = load_data(cfg.data, cfg.load_size or cfg.size, fam.task, cfg.data_b, cfg.direction, cfg.in_memory)
    num_classes = len(dataset.class_names) if fam.task == "class" else 0
    probe = fam(parse_options(fam, None, cfg.options), cfg.size, dataset.channels, num_classes, dataset.in_channels)
    if init_ckpt is not None:
        ema = probe.ema()
        check_init(init_ckpt, probe, ema.net if ema is not None else None)
    check_fits(probe, dev, training=True)
    if epochs is not None:
        per_step = cfg.batch_size * probe.draws_per_step()
        cfg.steps = max(1, math.ceil(epochs * len(dataset) / per_step))
    elif steps is not None:
        cfg.steps = steps
    main_rank = os.environ.get("RANK", "0") == "0"  # under torchrun, rank 0 alone reports and writes
    # Only now, with the inputs valid, is the folder created (and locked for the whole run).
    with claim(run_dir, main_rank):
        if resume is None and checkpoints_in(run_dir):  # a run that ended between the check above and the lock
            raise BadInput(f"{run_dir} already holds a run: continue it with --resume {run_dir}, or pick another --out")
        if main_rank:
            console.info(
                f"training {fam.name} on {dataset.source} at {cfg.size}px, {cfg.steps} steps, batch "
                f"{cfg.batch_size}, device {dev.type} -> {run_dir}"
            )
        final = train(
            cfg, dataset, run_dir, dev, resume=resume_ckpt, quiet=quiet, init=init_ckpt, tensorboard=tensorboard
        )
    if main_rank:
        console.info(f"done: samples in {run_dir / 'samples'}, loss plot {run_dir / 'losses.png'}")
        console.out(str(final))


def _resumed_config(resume: Path, fam, flags: dict, option: list[str] | None, out: Path | None):
    """The stored config of the run to continue, with the flags that may change applied (and said)."""
    from gan_cli.io import checkpoint as ckpt
    from gan_cli.train.config import TrainConfig, resolve_checkpoint

    path, run_dir = resolve_checkpoint(resume, None, "--resume")
    run_dir = run_dir or path.parent
    meta = ckpt.read_meta(path)
    if meta.get("family") != fam.name:
        raise BadInput(f"{path} is a {meta.get('family')} checkpoint, not {fam.name}")
    if meta.get("kind") != "full":
        raise BadInput(f"{path}: a generator-only checkpoint cannot be resumed (it has no D or optimizer state)")
    if option:
        raise BadInput("-o cannot change a resumed run's options")
    if out is not None and out.resolve() != run_dir.resolve():
        raise BadInput(f"--out {out} differs from the resumed run's folder {run_dir}: a resumed run writes there")
    try:
        cfg = TrainConfig(**meta["train"])
    except (KeyError, TypeError):
        raise BadInput(f"{path}: checkpoint metadata has no usable training config") from None
    fixed = ("size", "seed", "load_size", "flip", "direction", "data_b")
    for key, value in flags.items():
        if value is None or value == getattr(cfg, key):
            continue
        if key in fixed:
            raise BadInput(
                f"--{key.replace('_', '-')} {value}: the run was trained with {getattr(cfg, key)}; "
                "it cannot change on resume (start a new run)"
            )
        console.info(f"resume: {key.replace('_', '-')} changes from {getattr(cfg, key)} to {value}")
        setattr(cfg, key, value)
    return cfg, path, run_dir


def _init_checkpoint(init: str, family: str) -> tuple[Path, dict]:
    """The checkpoint --init names (a file, a run folder's newest, or a pretrained name) and its metadata."""
    from gan_cli.io import checkpoint as ckpt
    from gan_cli.train.config import resolve_checkpoint
    from gan_cli.train.finetune import check_init_meta

    path, _ = resolve_checkpoint(Path(init), None, "--init")
    meta = ckpt.read_meta(path)
    check_init_meta(path, meta, family)
    return path, meta


def _asdict(opts: object) -> dict:
    import dataclasses

    return dataclasses.asdict(opts)  # type: ignore[arg-type]
