"""The `gan` command: one typer app; each subcommand lives in its own module under commands/.

`main()` is the console-script entry point. It turns library errors (gan_cli.errors) and click's
usage errors into one `error:` line on stderr and an exit code: 0 ok, 1 runtime failure, 2 bad usage
or bad input. Python warnings (PIL, torch) become one `warning:` line each; a closed stdout is one
error line, a reader that goes away (`| head`) a quiet exit 1.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from gan_cli import __version__, console
from gan_cli.errors import GanError

# Each module here has `register(app)`, adding its command(s). Order = order in `gan --help`.
COMMAND_MODULES = ("train", "sample", "mix", "translate", "convert", "info", "models", "export", "eval_fid", "prep")

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


# Typer ships click (vendored in recent versions, a dependency in older ones); its public
# `typer.BadParameter` leads to the usage-error base classes either way.
_CLICK_ERRORS = {c.__name__: c for c in typer.BadParameter.__mro__}
UsageError: type[Exception] = _CLICK_ERRORS["UsageError"]
ClickException: type[Exception] = _CLICK_ERRORS["ClickException"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script passes it to sys.exit)."""
    args = sys.argv[1:] if argv is None else list(argv)
    with console.routed_warnings():
        return _run(args)


def _run(args: list[str]) -> int:
    try:
        # Not standalone: usage errors come back here as exceptions, to be shown as one line.
        code = app(args=args, prog_name="gan", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except SystemExit as e:
        if e.code is None:
            return 0
        return e.code if isinstance(e.code, int) else 1
    except UsageError as e:
        return _usage_error(e)
    except ClickException as e:  # click's other errors (a file it could not open)
        console.error(e.format_message())
        return e.exit_code
    except GanError as e:
        console.error(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        console.error("interrupted")
        return 130
    except BrokenPipeError:
        return _broken_pipe()
    except typer.Abort:  # click's Ctrl-C or end of input at a prompt
        console.error("aborted")
        return 1
    except Exception as e:  # a bug: one line by default, the traceback on request
        if os.environ.get("GAN_CLI_DEBUG"):
            raise
        console.error(f"internal error: {type(e).__name__}: {e} (set GAN_CLI_DEBUG=1 for the traceback)")
        return 1


def _usage_error(e: Exception) -> int:
    """One `error:` line with a pointer to the command's help, instead of click's usage box."""
    if type(e).__name__ == "NoArgsIsHelpError":  # `gan info` alone: the help, as `gan info --help` shows it
        text = e.format_message()
        if text and text.strip():  # plain click puts the help in the message; typer's rich help is already out
            e.show()
        return e.exit_code
    ctx = getattr(e, "ctx", None)
    hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
    console.error(" ".join(e.format_message().split()).rstrip(".") + hint)
    return e.exit_code


def _broken_pipe() -> int:
    """The reader went away (`gan models | head -c1`): exit 1 without a message, as typer does when
    the pipe breaks inside a command and as Python's documentation advises.

    stdout is pointed at /dev/null so that Python's final flush does not complain again.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):  # stdout is not a real file (tests capture it)
        pass
    return 1
