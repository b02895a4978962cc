"""`gan sample`: a grid, single images, one image per seed or an interpolation walk, reproducibly."""

from __future__ import annotations

from pathlib import Path

import typer

from gan_cli import console
from gan_cli.device import DEVICE_HELP, resolve_device
from gan_cli.errors import BadInput

HELP = """Draw samples from a trained generator: one grid image, --n single images, one PNG per --seeds
entry, or an --interpolate walk (a GIF or a folder of frames).

Without --weights, uses the newest checkpoint of the newest runs/MODEL-NNN (and says which on stderr);
with no run there, the family's pretrained default if it has one (stylegan2: ffhq-1024).
The same seed and weights give byte-identical files. Prints the written path(s) on stdout.
--truncation and --noise-mode exist for families that have them (stylegan, stylegan2); --space w saves and
interpolates w+ latents of style-based families.

[bold]Examples[/]

  gan sample dcgan --seed 233 --rows 3 --cols 5
  gan sample --weights runs/dcgan-001/generator.safetensors --out grid.png
  gan sample stylegan2 --weights ffhq-1024 --seeds 0-7 --truncation 0.7   # downloaded once, cached
  gan sample cgan --class 7 --rows 2 --cols 8
  gan sample dcgan --n 1000 --out fakes/ --save-latents z.npy
  gan sample dcgan --latents z.npy --n 1000 --out again/
  gan sample stylegan2 --seeds 0-35,40,50 --truncation 0.7 --out faces/
  gan sample stylegan2 --seeds 1,2 --space w --save-latents w.npy
  gan sample stylegan2 --interpolate 1,2,3 --frames 30 --out walk.gif
"""


def register(app: typer.Typer) -> None:
    app.command("sample", help=HELP)(sample_cmd)


def sample_cmd(
    model: str = typer.Argument(None, help="Model family; optional when --weights is given."),
    weights: Path = typer.Option(
        None,
        "--weights",
        "-w",
        help="Checkpoint (.safetensors, full or generator-only), a run folder, or a pretrained name "
        "(gan models --pretrained).",
    ),
    seed: int = typer.Option(0, "--seed", "-s", help="Seed of the latents."),
    rows: int = typer.Option(None, "--rows", help="Grid rows (default: 4, or to fit --latents)."),
    cols: int = typer.Option(None, "--cols", help="Grid columns (default: 8)."),
    n: int = typer.Option(None, "--n", help="Write N single images into the --out folder instead of a grid."),
    seeds: str = typer.Option(None, "--seeds", help="One PNG per seed into the --out folder: e.g. 0-35,40,50."),
    interpolate: str = typer.Option(None, "--interpolate", help="Walk through these seeds and back: e.g. 1,2,3."),
    frames: int = typer.Option(30, "--frames", min=1, help="Frames per transition of --interpolate."),
    fps: float = typer.Option(15.0, "--fps", min=0.1, help="Frames per second of an --interpolate GIF."),
    out: Path = typer.Option(None, "--out", help="Grid or GIF file, or folder (--n, --seeds, frames)."),
    save_latents: Path = typer.Option(None, "--save-latents", help="Save the latents used to this .npy file."),
    latents: Path = typer.Option(None, "--latents", help="Use these latents (.npy, z or w+) instead of --seed."),
    space: str = typer.Option("z", "--space", help="Latent space of --save-latents and --interpolate: z or w."),
    cls: str = typer.Option(None, "--class", "-c", help="Class index or name, for class-conditional models."),
    truncation: float = typer.Option(None, "--truncation", help="Truncation psi, for families that have it."),
    noise_mode: str = typer.Option(None, "--noise-mode", help="const, random or none, for families with noise."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Images generated at once."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
) -> None:
    import torch

    from gan_cli import latents as lat
    from gan_cli.registry import get_family
    from gan_cli.sampling import check_sample_options, load_model
    from gan_cli.train.config import resolve_checkpoint

    for flag, value in (("--rows", rows), ("--cols", cols), ("--n", n)):
        if value is not None and value < 1:
            raise BadInput(f"{flag} must be at least 1 (got {value})")
    if sum(x is not None for x in (n, seeds, interpolate)) > 1:
        raise BadInput("give one of --n, --seeds and --interpolate")
    if space not in ("z", "w"):
        raise BadInput(f"--space {space}: use z or w")
    path, _ = resolve_checkpoint(weights, get_family(model).name if model else None)
    if weights is None:
        console.info(f"using {path}")
    gen = load_model(path, resolve_device(device), expect=model)
    fam = gen.family
    if fam.task not in ("noise", "class"):
        raise BadInput(f"{path}: {fam.name} translates images; use gan translate {fam.name} IN OUT")
    opts = check_sample_options(fam, {"truncation": truncation, "noise_mode": noise_mode})
    if space == "w" and not gen.style_based:
        raise BadInput(f"--space w: {fam.name} has no w space (style-based families have: stylegan, stylegan2)")
    if cls is not None and fam.task != "class":
        raise BadInput(f"--class: {fam.name} is not class-conditional")
    k = gen.class_index(cls) if cls is not None else None

    # --- which latents ---
    kind = "z"
    if latents is not None:
        w_shape = (fam.num_ws(), fam.opts.style_dim) if gen.style_based else (None, None)
        z, kind = lat.load_any(latents, fam.latent_dim(), *w_shape)
    elif seeds is not None:
        seed_list = lat.parse_int_list(seeds, "--seeds")
        z = lat.seed_latents(fam, seed_list)
    elif interpolate is not None:
        keys = lat.seed_latents(fam, lat.parse_int_list(interpolate, "--interpolate"))
        if space == "w":
            z, kind = lat.interpolate(gen.ws(keys, opts.get("truncation", 1.0)), frames, False), "w"
        else:
            z = lat.interpolate(keys, frames, True)
    else:
        z = gen.latents(n if n is not None else (rows or 4) * (cols or 8), seed)
    count = z.shape[0]
    if n is not None and latents is not None and n != count:
        raise BadInput(f"--latents holds {count} vectors, --n asks for {n}")
    grid = n is None and seeds is None and interpolate is None
    if grid:
        cols = cols or (min(8, count) if latents is not None else 8)
        rows = rows or -(-count // cols)
    if space == "w" and kind == "z":  # save (and use) w+ instead of z
        z, kind = gen.ws(z, opts.get("truncation", 1.0), batch_size), "w"
    # class labels: --class for every image, else one class per grid row (cycling through classes otherwise)
    y = gen.labels(count, 0 if k is None and interpolate is not None else k, cols if grid else None)
    if kind == "w":
        imgs = torch.cat(list(gen.synthesize(z, batch_size, opts.get("noise_mode", "const"))))
    else:
        imgs = torch.cat(list(gen.generate(z, y, batch_size, **opts)))
    _write(imgs, z, fam.name, seed, out, n, seeds and seed_list, interpolate, rows, cols, latents, fps, save_latents)


def _write(imgs, z, name, seed, out, n, seed_list, interpolate, rows, cols, latents, fps, save_latents) -> None:
    import numpy as np

    from gan_cli.io import images
    from gan_cli.io.atomic import atomic_path

    count = imgs.shape[0]
    if save_latents is not None:
        if save_latents.suffix != ".npy":
            raise BadInput(f"--save-latents {save_latents}: use a .npy file name")
        with atomic_path(save_latents) as tmp:
            np.save(tmp, z.numpy().astype(np.float32))
    if interpolate is not None:
        target = out or Path(f"{name}-walk.gif")
        if target.suffix.lower() == ".gif":
            console.out(str(images.save_gif(imgs, target, fps)))
        else:
            for p in images.save_many(imgs, target, [f"frame{i:05d}.png" for i in range(count)]):
                console.out(str(p))
    elif seed_list or n is not None:
        folder = out or Path(f"{name}-seeds" if seed_list else f"{name}-seed{seed}")
        if folder.exists() and not folder.is_dir():
            raise BadInput(f"--out {folder}: exists and is not a folder (with --n or --seeds, --out is a folder)")
        width = max(4 if seed_list else 6, len(str(max(seed_list or [count - 1]))))
        names = (
            [f"seed{s:0{width}d}.png" for s in seed_list] if seed_list else [f"{i:0{width}d}.png" for i in range(count)]
        )
        for p in images.save_many(imgs, folder, names):
            console.out(str(p))
    else:
        if rows * cols < count or (latents is not None and rows * cols != count):
            raise BadInput(f"{count} latents do not fill a {rows}x{cols} grid")
        console.out(str(images.save_grid(imgs, rows, cols, out or Path(f"{name}-seed{seed}.png"))))
    if save_latents is not None:
        console.info(f"latents saved to {save_latents}")
