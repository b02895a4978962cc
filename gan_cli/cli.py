"""The `gan` command: one typer app; each subcommand lives in its own module under commands/.

`main()` is the console-script entry point. It turns library errors (gan_cli.errors) into one
line on stderr and an exit code: 0 ok, 1 runtime failure, 2 bad usage or bad input.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from gan_cli import __version__, console
from gan_cli.errors import GanError

# Each module here has `register(app)`, adding its command(s). Order = order in `gan --help`.
COMMAND_MODULES = ("train", "sample", "translate", "convert", "info", "models", "export", "eval_fid", "prep")

app = typer.Typer(
    name="gan",
    help="Train, sample, mix, translate and evaluate GANs. Files in, files out: image folders, "
    ".safetensors checkpoints, .npy latents, .npz FID statistics.",
    epilog="Example: gan train dcgan --data mnist && gan sample dcgan --seed 233 --rows 3 --cols 5",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        console.out(f"gan-cli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Train, sample, mix, translate and evaluate GANs."""


for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"gan_cli.commands.{_name}")
    except ModuleNotFoundError as _e:  # a command still being written must not break the others
        if _e.name != f"gan_cli.commands.{_name}":
            raise
        continue
    _mod.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script passes it to sys.exit)."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        app(args=args, prog_name="gan")  # standalone: typer handles usage errors (exit 2) and --help
        return 0
    except SystemExit as e:
        if e.code is None:
            return 0
        return e.code if isinstance(e.code, int) else 1
    except GanError as e:
        console.error(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        console.error("interrupted")
        return 130
    except BrokenPipeError:
        return 1
    except Exception as e:  # a bug: one line by default, the traceback on request
        if os.environ.get("GAN_CLI_DEBUG"):
            raise
        console.error(f"internal error: {type(e).__name__}: {e} (set GAN_CLI_DEBUG=1 for the traceback)")
        return 1
