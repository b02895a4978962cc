"""`gan mix`: the StyleGAN style-mixing figure, for style-based families."""

from __future__ import annotations

from pathlib import Path

import typer

from gan_cli import console
from gan_cli.device import DEVICE_HELP, resolve_device
from gan_cli.errors import BadInput

HELP = """Style mixing: a grid with the column sources along the top and the row sources down the left;
each cell is its row's w+ with the --styles layers taken from its column's w+.

--styles is coarse (4-8 px layers: pose, face shape), middle (16-32 px: features), fine (64 px and up:
colours, texture), or layer indices such as 0-3 or 0-3,8. Rows and columns come from seeds, or from
saved z or w+ latents (--latents ROWS.npy COLS.npy, as written by gan sample --save-latents).

[bold]Examples[/]

  gan mix stylegan2 --row-seeds 1,2,3 --col-seeds 4,5,6 --styles coarse
  gan mix --weights ffhq.safetensors --row-seeds 85,100 --col-seeds 55,821 --styles 0-6 --truncation 0.7
  gan mix stylegan2 --latents rows.npy cols.npy --styles fine --out mix.png
"""


def register(app: typer.Typer) -> None:
    app.command("mix", help=HELP)(mix_cmd)


def mix_cmd(
    model: str = typer.Argument(None, help="Model family; optional when --weights is given."),
    weights: Path = typer.Option(
        None,
        "--weights",
        "-w",
        help="Checkpoint (.safetensors), run folder or pretrained name (gan models --pretrained).",
    ),
    row_seeds: str = typer.Option(None, "--row-seeds", help="Seeds of the row sources, e.g. 1,2,3."),
    col_seeds: str = typer.Option(None, "--col-seeds", help="Seeds of the column sources, e.g. 4-6."),
    latents: tuple[Path, Path] = typer.Option(None, "--latents", help="ROWS.npy COLS.npy (z or w+)."),
    styles: str = typer.Option("coarse", "--styles", help="coarse, middle, fine, or layer indices like 0-3."),
    truncation: float = typer.Option(None, "--truncation", help="Truncation psi (default 1: none)."),
    noise_mode: str = typer.Option(None, "--noise-mode", help="const (default), random or none."),
    out: Path = typer.Option(None, "--out", help="Grid file (default: MODEL-mix-STYLES.png)."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
) -> None:
    import torch

    from gan_cli import latents as lat
    from gan_cli.io import images
    from gan_cli.registry import get_family
    from gan_cli.sampling import check_sample_options, load_model
    from gan_cli.train.config import resolve_checkpoint

    path, _ = resolve_checkpoint(weights, get_family(model).name if model else None)
    if weights is None:
        console.info(f"using {path}")
    gen = load_model(path, resolve_device(device), expect=model)
    fam = gen.family
    if not gen.style_based:
        raise BadInput(f"{fam.name} has no styles to mix: gan mix works for style-based families (stylegan, stylegan2)")
    opts = check_sample_options(fam, {"truncation": truncation, "noise_mode": noise_mode})
    layers = style_layers(styles, fam.style_ranges(), fam.num_ws())

    def sources(seeds: str | None, file: Path | None, flag: str) -> torch.Tensor:
        if (seeds is None) == (file is None):
            raise BadInput(f"give --{flag}-seeds or --latents ROWS.npy COLS.npy")
        if file is not None:
            z, kind = lat.load_any(file, fam.latent_dim(), fam.num_ws(), fam.opts.style_dim)
        else:
            z, kind = lat.seed_latents(fam, lat.parse_int_list(seeds, f"--{flag}-seeds")), "z"
        return z if kind == "w" else gen.ws(z, opts["truncation"])

    files = latents if latents and latents[0] is not None else (None, None)
    rows_w = sources(row_seeds, files[0], "row")
    cols_w = sources(col_seeds, files[1], "col")
    cells = mix(rows_w, cols_w, layers)
    noise = opts["noise_mode"]
    synth = [torch.cat(list(gen.synthesize(w, noise_mode=noise))) for w in (cols_w, rows_w, cells)]
    col_imgs, row_imgs, cell_imgs = synth
    blank = torch.ones_like(col_imgs[:1])
    r, c = rows_w.shape[0], cols_w.shape[0]
    grid = [blank, col_imgs]
    for i in range(r):
        grid += [row_imgs[i : i + 1], cell_imgs[i * c : (i + 1) * c]]
    target = out or Path(f"{fam.name}-mix-{styles.replace(',', '_')}.png")
    console.out(str(images.save_grid(torch.cat(grid), r + 1, c + 1, target)))


def style_layers(spec: str, ranges: dict[str, tuple[int, int]], num_ws: int) -> list[int]:
    """Layer indices from a named range (coarse, middle, fine) or "0-3,8"; each within 0..num_ws-1."""
    from gan_cli import latents as lat

    if spec in ranges:
        lo, hi = ranges[spec]
        if lo == hi:
            console.warn(f"--styles {spec}: this model has no {spec} layers at its resolution; cells equal their rows")
        return list(range(lo, hi))
    if spec.replace(",", "").replace("-", "").isdigit():
        return lat.parse_int_list(spec, "--styles", 0, num_ws - 1)
    raise BadInput(f"--styles {spec}: use {', '.join(ranges)} or layer indices within 0-{num_ws - 1} such as 0-3")


def mix(rows_w, cols_w, layers: list[int]):
    """Cells [rows x cols, num_ws, w_dim]: each row's w+ with `layers` taken from each column's w+."""
    r, c = rows_w.shape[0], cols_w.shape[0]
    cells = rows_w[:, None].repeat(1, c, 1, 1)
    if layers:
        cells[:, :, layers] = cols_w[None, :, layers].expand(r, -1, -1, -1)
    return cells.flatten(0, 1)
