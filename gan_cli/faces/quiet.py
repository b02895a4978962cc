"""Keep MediaPipe's native logging (glog, absl, TFLite/LiteRT) off the user's terminal.

The C++ side writes straight to file descriptor 2, past Python's `sys.stderr`, so the only
reliable switch is to point fd 2 at /dev/null while native code runs and restore it afterwards.
`native_quiet()` does that around model creation, inference and close; our own messages are
printed outside these windows, so they still reach stderr. Set GAN_CLI_NATIVE_LOGS=1 to see the
native logs (debugging).

Importing this module also sets the environment switches that the native libraries read once at
load time; import it before mediapipe.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

os.environ.setdefault("GLOG_minloglevel", "3")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")

_lock = threading.RLock()
_depth = 0
_saved_fd: int | None = None


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


@contextlib.contextmanager
def native_quiet() -> Iterator[None]:
    """Silence file descriptor 2 for the duration of the block (re-entrant, thread-safe)."""
    global _depth, _saved_fd
    if os.environ.get("GAN_CLI_NATIVE_LOGS"):
        yield
        return
    with _lock:
        if _depth == 0:
            _flush_python_streams()  # what we printed before must not be lost in /dev/null
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                _saved_fd = os.dup(2)
                os.dup2(devnull, 2)
            finally:
                os.close(devnull)
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
            if _depth == 0 and _saved_fd is not None:
                os.dup2(_saved_fd, 2)
                os.close(_saved_fd)
                _saved_fd = None
