"""`gan eval-fid A B`: Fréchet Inception Distance (and optionally KID) between two image sets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from gan_cli import console
from gan_cli.device import DEVICE_HELP
from gan_cli.errors import BadInput

HELP = """Fréchet Inception Distance between two sets of images (lower = closer). Prints the FID alone on \
stdout.

A and B are each an [bold]image folder[/] (recursive; any mode or size, converted to RGB), a \
[bold].npz[/] of statistics (mu and sigma: pytorch-fid's format, interchangeable with it) or a \
gan-cli [bold]checkpoint[/], whose --n samples are generated on the fly and never written to disk.

The network is pytorch-fid's FID Inception-v3 (pool3, 2048-d), and the values match pytorch-fid's. \
Memory stays flat whatever the number of images, except with --kid, which keeps every feature \
(float32, 8 KB per image). Weights: --inception, $GAN_CLI_INCEPTION, ~/.cache/gan-cli/, else a \
download of pytorch-fid's file (checksum verified).

[bold]Examples[/]

  gan eval-fid real/ fake/
  gan eval-fid real/ fake/ --save-stats real.npz
  gan eval-fid real.npz runs/dcgan-001/generator.safetensors --n 10000
  gan eval-fid real.npz fake/ --kid --json
  gan eval-fid real/ fake/ --inception pt_inception-2015-12-05-6726825d.pth
"""


def register(app: typer.Typer) -> None:
    app.command("eval-fid", help=HELP, no_args_is_help=True)(eval_fid_cmd)


def eval_fid_cmd(
    a: str = typer.Argument(..., metavar="A", help="Image folder, .npz statistics or checkpoint (the reference)."),
    b: str = typer.Argument(
        ..., metavar="B", help="Image folder, .npz statistics, checkpoint or pretrained name (gan models --pretrained)."
    ),
    kid: bool = typer.Option(
        False, "--kid", help="Also compute KID (100 subsets of 1,000); keeps all features in memory."
    ),
    as_json: bool = typer.Option(
        False, "--json", help='Print {"fid", "kid_mean", "kid_std", "n_a", "n_b", "dims"} instead.'
    ),
    save_stats: Path = typer.Option(
        None, "--save-stats", help="Write the statistics of A to this .npz (reuse it as A next time)."
    ),
    batch_size: int = typer.Option(
        None, "--batch-size", min=1, help="Images per forward pass [default: 8 per CPU core, 50 on a GPU]."
    ),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    inception: Path = typer.Option(
        None, "--inception", help="FID Inception weights: pytorch-fid's .pth or a .safetensors with its keys."
    ),
    resize: str = typer.Option(
        "legacy", "--resize", help="legacy: bilinear 299 as pytorch-fid; clean: PIL bicubic as clean-fid."
    ),
    n: int = typer.Option(10_000, "--n", help="Samples to generate from a checkpoint."),
    seed: int = typer.Option(0, "--seed", "-s", help="Seed of the samples generated from a checkpoint."),
    truncation: float = typer.Option(None, "--truncation", help="Truncation, for families that have it."),
    workers: int = typer.Option(
        min(4, os.cpu_count() or 1), "--workers", min=1, help="Threads decoding images while the network runs."
    ),
) -> None:
    from gan_cli.metrics.evaluate import EvalOptions, evaluate

    if resize not in ("legacy", "clean"):
        raise BadInput(f"--resize {resize}: use legacy (pytorch-fid) or clean (clean-fid)")
    if n < 2:
        raise BadInput(f"--n {n}: FID needs at least 2 samples")
    opts = EvalOptions(
        kid=kid,
        save_stats=save_stats,
        batch_size=batch_size,
        device=device,
        inception=inception,
        resize=resize,
        n=n,
        seed=seed,
        truncation=truncation,
        workers=workers,
    )
    result = evaluate(a, b, opts)
    if as_json:
        console.out(json.dumps(result))
    else:
        console.out(f"{result['fid']:.6f}")
