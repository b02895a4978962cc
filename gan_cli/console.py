"""Where human-readable output goes: stderr, through rich. stdout is reserved for data (paths, JSON)."""

from __future__ import annotations

import sys

from rich.console import Console

_console: Console | None = None


def console() -> Console:
    """The shared stderr console (created lazily so tests that swap sys.stderr see their stream)."""
    global _console
    if _console is None or _console.file is not sys.stderr:
        _console = Console(file=sys.stderr, highlight=False, soft_wrap=True)
    return _console


def info(msg: str) -> None:
    console().print(msg, markup=False)


def warn(msg: str) -> None:
    console().print(f"warning: {msg}", style="yellow", markup=False)


def error(msg: str) -> None:
    console().print(f"error: {msg}", style="bold red", markup=False)


def out(line: str) -> None:
    """One line of data on stdout (a path, JSON)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
