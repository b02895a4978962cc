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
"""


def register(app: typer.Typer) -> None:
    app.command("models", help=HELP)(models_cmd)


def models_cmd(
    options: bool = typer.Option(False, "--options", help="Also list each family's -o options."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    from gan_cli.registry import FAMILIES, family_names, options_help

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
