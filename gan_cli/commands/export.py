"""`gan export CKPT OUT`: a generator-only checkpoint for sharing (no D, no optimizer state)."""

from __future__ import annotations

from pathlib import Path

import typer

from gan_cli import console
from gan_cli.errors import BadInput

HELP = """Write a generator-only copy of a checkpoint (the EMA generator where there is one): small, for sharing.
`gan sample --weights OUT` works on it with no other flag.

[bold]Example[/]

  gan export runs/dcgan-001/checkpoints/step-0003000.safetensors dcgan-mnist.safetensors
"""


def register(app: typer.Typer) -> None:
    app.command("export", help=HELP, no_args_is_help=True)(export_cmd)


def export_cmd(
    ckpt: Path = typer.Argument(..., help="A gan-cli checkpoint."),
    out: Path = typer.Argument(..., help="Output .safetensors file."),
) -> None:
    from gan_cli.io import checkpoint as ck
    from gan_cli.registry import get_family
    from gan_cli.train.state import generator_tensors

    if out.suffix != ".safetensors":
        raise BadInput(f"{out}: use a .safetensors file name")
    if out.resolve() == ckpt.resolve():
        raise BadInput("OUT must differ from CKPT")
    tensors, meta = ck.load(ckpt)
    names = get_family(str(meta.get("family"))).inference
    g = generator_tensors(tensors, names)
    if not g:
        raise BadInput(f"{ckpt}: has no generator weights")
    bad = next((k for k, t in g.items() if t.is_floating_point() and not bool(t.isfinite().all())), None)
    if bad is not None:
        raise BadInput(f"{ckpt}: {bad} holds NaN or inf values (a diverged run?); not exported")
    meta = {k: v for k, v in meta.items() if k not in ("optimizers", "optimizer_tensors", "state", "format", "version")}
    console.out(str(ck.save(out, g, {**meta, "kind": "generator"})))
