"""Exceptions that the CLI turns into one clear line and an exit code.

Library code raises these instead of printing; `gan_cli.cli.main` catches them.
Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad input.
"""

from __future__ import annotations


class GanError(Exception):
    """Base class: a failure that deserves a one-line message, not a traceback."""

    exit_code = 1


class BadInput(GanError):
    """The user gave something we cannot use: a missing file, a wrong option, a corrupt checkpoint."""

    exit_code = 2


class RuntimeFailure(GanError):
    """The work itself failed (NaN losses, a download that broke, a skipped input)."""

    exit_code = 1


class OfflineError(BadInput):
    """A file had to be downloaded but the network is not reachable."""
