"""Where human-readable output goes: stderr, through rich. stdout is reserved for data (paths, JSON).

Text that comes from files (checkpoint metadata, file names, library messages quoting them) can hold
terminal control sequences: an ESC or OSC sequence would retitle the terminal, clear the screen or
forge lines. Everything written for a human therefore goes through `printable`, which shows control
characters as Python-style escapes (`\\x1b`), as `ls` does on a terminal. Data lines on stdout are
escaped only when stdout is a terminal, so a pipe receives the exact text (unless stdout's encoding
cannot carry it: a file name that is not UTF-8 is then escaped too).
"""

from __future__ import annotations

import errno
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

from gan_cli.errors import RuntimeFailure

_console: Console | None = None

# C0 controls, DEL and C1 controls; the bidirectional overrides that reorder what a terminal shows;
# lone surrogates (a file name's bytes that are not UTF-8, as Python decodes them).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the original byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control character shown as an escape (`\\x1b`; a newline too, `\\x0a`, so that
    one message stays one line)."""
    return _UNPRINTABLE.sub(_escape, text)


def console() -> Console:
    """The shared stderr console (created lazily so tests that swap sys.stderr see their stream)."""
    global _console
    if _console is None or _console.file is not sys.stderr:
        # sys.stderr is None when fd 2 was closed at start-up: rich would fall back to stdout.
        _console = Console(file=sys.stderr, highlight=False, soft_wrap=True, emoji=False, quiet=sys.stderr is None)
    return _console


def info(msg: str) -> None:
    console().print(printable(msg), markup=False)


def warn(msg: str) -> None:
    console().print(f"warning: {printable(msg)}", style="yellow", markup=False)


def error(msg: str) -> None:
    console().print(f"error: {printable(msg)}", style="bold red", markup=False)


class StdoutClosed(RuntimeFailure):
    """stdout was closed (`gan models >&-`): the data has nowhere to go."""


def out(line: str) -> None:
    """Data on stdout (a path, JSON; one or more lines), escaped only when stdout is a terminal."""
    stream = sys.stdout
    if stream is None:
        raise StdoutClosed("cannot write the output: stdout is closed")
    if stream.isatty():
        line = _printable_lines(line)
    try:
        try:
            stream.write(line + "\n")
        except UnicodeEncodeError:  # a file name that is not valid in stdout's encoding
            stream.write(_printable_lines(line) + "\n")
        stream.flush()
    except ValueError as e:  # "I/O operation on closed file"
        raise StdoutClosed(f"cannot write the output: stdout is closed ({e})") from None
    except OSError as e:
        if e.errno != errno.EBADF:
            raise  # EPIPE among them: cli.main exits quietly, as `head` closing the pipe expects
        raise StdoutClosed("cannot write the output: stdout is closed") from None


def _printable_lines(text: str) -> str:
    return "\n".join(printable(line) for line in text.split("\n"))


@contextmanager
def routed_warnings() -> Iterator[None]:
    """Show Python warnings (PIL, torch, numpy) as one `warning:` line each, once per distinct text.

    Without this, `warnings` prints the message, the file and the source line raw on stderr.
    """
    seen: set[str] = set()

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int, *args: object) -> None:
        text = " ".join(str(message).split())
        if text not in seen:
            seen.add(text)
            warn(text)

    previous = warnings.showwarning
    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous
