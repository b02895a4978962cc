"""Shared test helpers: the real CLI entry point in-process, and the project's shared data."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (ROOT / ".." / "shared" / "data").resolve()


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch):
    """Call `gan ...` through gan_cli.cli.main (the console script's function), in-process.

    Returns Result(code, stdout, stderr).
    """
    from gan_cli.cli import main

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def run_gan(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: int = 600) -> Result:
    """Run the installed `gan` console script in a subprocess (the real entry point, end to end)."""
    full_env = {**os.environ, **(env or {})}
    exe = Path(sys.executable).with_name("gan")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "gan_cli"]
    p = subprocess.run([*cmd, *map(str, args)], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
    return Result(p.returncode, p.stdout, p.stderr)


def assert_clean_error(r: Result, code: int = 2, contains: str | None = None) -> None:
    """A bad input: the given exit code, one 'error:' line, no traceback."""
    assert r.code == code, (r.code, r.out, r.err)
    assert "Traceback" not in r.err, r.err
    if contains is not None:
        assert contains.lower() in r.err.lower(), r.err


def require_shared(*parts: str) -> Path:
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data missing: {p}")
    return p


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Decoded data sets go to a cache inside the test session's temporary folder, not ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
