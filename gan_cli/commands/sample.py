"""`gan sample`: a grid (or single images) from a checkpoint, reproducible from a seed or saved latents."""

from __future__ import annotations

from pathlib import Path

import typer

from gan_cli import console
from gan_cli.device import DEVICE_HELP, resolve_device
from gan_cli.errors import BadInput

HELP = """Draw samples from a trained generator: one grid image, or --n single images into a folder.

Without --weights, uses the newest checkpoint of the newest runs/MODEL-NNN (and says which on stderr).
The same seed and weights give byte-identical files. Prints the written path(s) on stdout.

[bold]Examples[/]

  gan sample dcgan --seed 233 --rows 3 --cols 5
  gan sample --weights runs/dcgan-001/generator.safetensors --out grid.png
  gan sample cgan --class 7 --rows 2 --cols 8
  gan sample dcgan --n 1000 --out fakes/ --save-latents z.npy
  gan sample dcgan --latents z.npy --n 1000 --out again/
"""


def register(app: typer.Typer) -> None:
    app.command("sample", help=HELP)(sample_cmd)


def sample_cmd(
    model: str = typer.Argument(None, help="Model family; optional when --weights is given."),
    weights: Path = typer.Option(
        None, "--weights", "-w", help="Checkpoint (.safetensors, full or generator-only) or a run folder."
    ),
    seed: int = typer.Option(0, "--seed", "-s", help="Seed of the latents."),
    rows: int = typer.Option(None, "--rows", help="Grid rows (default: 4, or to fit --latents)."),
    cols: int = typer.Option(None, "--cols", help="Grid columns (default: 8)."),
    n: int = typer.Option(None, "--n", help="Write N single images into the --out folder instead of a grid."),
    out: Path = typer.Option(None, "--out", help="Grid file (default: MODEL-seedS.png) or folder with --n."),
    save_latents: Path = typer.Option(None, "--save-latents", help="Save the latents used to this .npy file."),
    latents: Path = typer.Option(None, "--latents", help="Use the latents in this .npy file instead of --seed."),
    cls: str = typer.Option(None, "--class", "-c", help="Class index or name, for class-conditional models."),
    truncation: float = typer.Option(None, "--truncation", help="Truncation psi, for families that have it."),
    noise_mode: str = typer.Option(None, "--noise-mode", help="const, random or none, for families with noise inputs."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Images generated at once."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
) -> None:
    import numpy as np
    import torch

    from gan_cli.io import images
    from gan_cli.io.atomic import atomic_path
    from gan_cli.registry import get_family
    from gan_cli.sampling import check_sample_options, load_latents, load_model
    from gan_cli.train.config import resolve_checkpoint

    for flag, value in (("--rows", rows), ("--cols", cols), ("--n", n)):
        if value is not None and value < 1:
            raise BadInput(f"{flag} must be at least 1 (got {value})")
    path, _ = resolve_checkpoint(weights, get_family(model).name if model else None)
    if weights is None:
        console.info(f"using {path}")
    gen = load_model(path, resolve_device(device), expect=model)
    fam = gen.family
    if fam.task not in ("noise", "class"):
        raise BadInput(f"{path}: {fam.name} translates images; use gan translate {fam.name} IN OUT")
    sample_opts = check_sample_options(fam, {"truncation": truncation, "noise_mode": noise_mode})
    if cls is not None and fam.task != "class":
        raise BadInput(f"--class: {fam.name} is not class-conditional")
    k = gen.class_index(cls) if cls is not None else None

    if latents is not None:
        z = load_latents(latents, fam.latent_dim())
        count = z.shape[0]
        if n is not None and n != count:
            raise BadInput(f"--latents holds {count} vectors, --n asks for {n}")
        cols = cols or min(8, count)
        rows = rows or -(-count // cols)
        if n is None and rows * cols != count:
            raise BadInput(f"--latents holds {count} vectors but the grid is {rows}x{cols}")
    else:
        rows, cols = rows or 4, cols or 8
        count = n if n is not None else rows * cols
        z = gen.latents(count, seed)
    y = gen.labels(count, k, None if n is not None else cols)
    imgs = torch.cat(list(gen.generate(z, y, batch_size, **sample_opts)))

    if save_latents is not None:
        if save_latents.suffix != ".npy":
            raise BadInput(f"--save-latents {save_latents}: use a .npy file name")
        with atomic_path(save_latents) as tmp:
            np.save(tmp, z.numpy().astype(np.float32))
    if n is None:
        target = out or Path(f"{fam.name}-seed{seed}.png")
        console.out(str(images.save_grid(imgs, rows, cols, target)))
    else:
        folder = out or Path(f"{fam.name}-seed{seed}")
        if folder.exists() and not folder.is_dir():
            raise BadInput(f"--out {folder}: exists and is not a folder (with --n, --out is a folder)")
        width = max(6, len(str(count - 1)))
        for p in images.save_many(imgs, folder, [f"{i:0{width}d}.png" for i in range(count)]):
            console.out(str(p))
    if save_latents is not None:
        console.info(f"latents saved to {save_latents}")
