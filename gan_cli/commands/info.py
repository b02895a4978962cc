"""`gan info CKPT`: what a checkpoint holds, read from its metadata and tensors."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from gan_cli import console

HELP = """Describe a checkpoint: family, options, step, data set, parameter counts, gan-cli version.

[bold]Examples[/]

  gan info runs/dcgan-001/generator.safetensors
  gan info runs/dcgan-001/checkpoints/step-0003000.safetensors --json | jq .params
"""


def register(app: typer.Typer) -> None:
    app.command("info", help=HELP, no_args_is_help=True)(info_cmd)


def checkpoint_info(path: Path) -> dict:
    from gan_cli.io import checkpoint as ckpt

    tensors, meta = ckpt.load(path)
    params: dict[str, int] = {}
    for key, t in tensors.items():
        net = key.split(".", 1)[0]
        if net in ("opt", "rng", "data", "fixed", "state") or "running_" in key or "num_batches" in key:
            continue
        params[net] = params.get(net, 0) + t.numel()
    return {
        "path": str(path),
        "family": meta.get("family"),
        "task": meta.get("task"),
        "kind": meta.get("kind"),
        "step": meta.get("step"),
        "seen": meta.get("seen"),  # real images shown to D
        "schedule": meta.get("schedule") or {},  # the last step's schedule values (growing: res, alpha, lod)
        "size": meta.get("size"),
        "channels": meta.get("channels"),
        "classes": meta.get("class_names") or [],
        "data": meta.get("data"),
        "options": meta.get("options", {}),
        "notes": _notes(meta),  # what the options mean where a family says (photo2cartoon: face-ID term on/off)
        "params": params,
        "train": meta.get("train"),
        "gan_cli_version": meta.get("version"),
        "format": meta.get("format"),
        "source": meta.get("source"),  # where a converted checkpoint came from
        "bytes": path.stat().st_size,
    }


def info_cmd(
    ckpt: Path = typer.Argument(..., help="A gan-cli .safetensors checkpoint."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout instead of a table."),
) -> None:
    info = checkpoint_info(ckpt)
    if as_json:
        console.out(json.dumps(info, indent=2))
        return
    params = ", ".join(f"{k} {v:,}" for k, v in info["params"].items())
    lines = [
        f"path       {info['path']}",
        f"family     {info['family']} ({info['task']}), {info['kind']} checkpoint",
        f"step       {info['step']}" + (f", {info['seen']:,} images seen" if isinstance(info["seen"], int) else ""),
        *([f"schedule   {_listing(info['schedule'])}"] if info["schedule"] else []),
        f"images     {info['size']}x{info['size']}, {info['channels']} channel(s)",
        f"classes    {_listing(info['classes']) or '-'}",
        f"data       {info['data']}",
        f"options    {_listing(info['options'])}",
        *(f"note       {note}" for note in info["notes"]),
        f"params     {params}",
        f"gan-cli    {info['gan_cli_version']} ({info['format']})",
        *([f"source     {_source_line(info['source'])}"] if info["source"] else []),
    ]
    # Every value comes from the file: control characters (ESC, OSC, newlines) are shown escaped,
    # so a crafted checkpoint cannot retitle or clear the terminal or forge lines.
    console.out("\n".join(console.printable(line) for line in lines))


def _notes(meta: dict) -> list[str]:
    """The family's remarks on the checkpoint's options; none for an unknown family or unreadable options."""
    from gan_cli.errors import BadInput
    from gan_cli.registry import get_family

    options = meta.get("options")
    if not isinstance(meta.get("family"), str) or not isinstance(options, dict):
        return []
    try:
        return get_family(meta["family"]).notes(options)
    except BadInput:
        return []


def _listing(value: object) -> str:
    """A dict as "k=v, ...", a list as "a, b"; anything else (a tampered file) as it is."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _source_line(source: object) -> str:
    if isinstance(source, dict):
        what = source.get("format", "?")
        files = source.get("file") or ", ".join(
            f.get("file", "?") for f in source.get("files", []) if isinstance(f, dict)
        )
        return f"converted from {what} {files} (sha256 {str(source.get('sha256', ''))[:12]}...)" if files else str(what)
    return str(source)
