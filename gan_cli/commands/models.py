"""`gan models`: the registered families, their task kind and (with --options) their -o options."""

from __future__ import annotations

import json

import typer

from gan_cli import console

HELP = """List the model families: name, task kind (noise, class, paired, unpaired) and summary.

[bold]Examples[/]

  gan models
  gan models --options          # with every -o key, its default, range and help, and sampling options
  gan models --json
  gan models --pretrained       # named weights for --weights NAME / --init NAME: source, licence, size
"""


def register(app: typer.Typer) -> None:
    app.command("models", help=HELP)(models_cmd)


def models_cmd(
    options: bool = typer.Option(False, "--options", help="Also list each family's -o options."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
    pretrained: bool = typer.Option(
        False, "--pretrained", help="List the named pretrained weights (--weights NAME): source, licence, size."
    ),
) -> None:
    from gan_cli.registry import FAMILIES, family_names, options_help

    if pretrained:
        return _pretrained(as_json)

    names = family_names()
    if as_json:
        rows = [
            {
                "name": n,
                "task": FAMILIES[n].task,
                "summary": FAMILIES[n].summary,
                "options": {k: {"default": d, "help": h} for k, d, h in options_help(FAMILIES[n])},
                "sample_options": {
                    k: {"default": o.default, "help": o.help, "choices": o.choices}
                    for k, o in FAMILIES[n].sample_options.items()
                },
            }
            for n in names
        ]
        console.out(json.dumps(rows, indent=2))
        return
    width = max(map(len, names))
    for n in names:
        fam = FAMILIES[n]
        console.out(f"{n:<{width}}  {fam.task:<8}  {fam.summary}")
        if options:
            for key, default, help_ in options_help(fam):
                console.out(f"{'':<{width}}    -o {key}={default}  {help_}")
            for key, opt in fam.sample_options.items():  # what gan sample / translate / eval-fid accept for it
                console.out(f"{'':<{width}}    --{key.replace('_', '-')} {opt.default}  {opt.help} (sampling)")


def _pretrained(as_json: bool) -> None:
    import dataclasses

    from gan_cli.pretrained import DEFAULTS, TABLE, folder

    if as_json:
        rows = [{**dataclasses.asdict(p), "default_for": p.family if DEFAULTS.get(p.family) == n else None}
                for n, p in TABLE.items()]  # fmt: skip
        console.out(json.dumps(rows, indent=2))
        return
    width = max(map(len, TABLE))
    for name, p in TABLE.items():
        default = f"  (default for {p.family})" if DEFAULTS.get(p.family) == name else ""
        console.out(f"{name:<{width}}  {p.family:<13}  {p.about}{default}")
        console.out(f"{'':<{width}}    {p.url}  {p.size}")
        console.out(f"{'':<{width}}    licence: {p.licence}{'  [NON-COMMERCIAL]' if p.noncommercial else ''}")
    console.info(f"downloaded on first use, converted and cached in {folder()}")
