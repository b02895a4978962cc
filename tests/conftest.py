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
FACES = ROOT / "tests" / "data" / "faces"  # the two public-domain portraits, 256 px (see the README there)


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


@pytest.fixture(scope="session")
def inception_weights(tmp_path_factory) -> Path:
    """FID Inception weights for the tests: the real ones where they are ($GAN_CLI_TEST_INCEPTION, then
    ../shared/data/fid/), otherwise the network's real architecture with seeded random weights.

    The random network exercises the same arithmetic (preprocessing, BatchNorm folding, streaming
    statistics, the FID itself) against the same plain reference; only a comparison with published
    FID values would need the real weights.
    """
    env = os.environ.get("GAN_CLI_TEST_INCEPTION")
    if env:
        if not Path(env).is_file():
            pytest.fail(f"$GAN_CLI_TEST_INCEPTION={env}: no such file")
        return Path(env)
    shared = SHARED_DATA / "fid" / "pt_inception-2015-12-05.safetensors"
    if shared.is_file():
        return shared
    from safetensors.torch import save_file

    path = tmp_path_factory.mktemp("inception") / "random-inception.safetensors"
    save_file(random_inception_state(seed=0), str(path))
    return path


def random_inception_state(seed: int) -> dict:
    """A state dict for FIDInception: He-initialised convolutions, and BatchNorms with random statistics
    and affine terms (so that folding them into the convolutions is tested on non-trivial values).

    Its pool3 features are of the real network's size (mean ~0.4, max ~5 on drawn shapes) and move
    smoothly with the input: the mean colour of a set shows in its statistics, as the tests expect.
    (Statistics measured on data would make the features far more input-sensitive, and noisier.)
    """
    import math

    import torch

    from gan_cli.metrics.inception import FIDInception

    g = torch.Generator().manual_seed(seed)
    with torch.device("meta"):  # shapes only: every tensor is drawn below
        shapes = FIDInception().state_dict()
    state = {}
    for name, t in shapes.items():
        n = t.shape[0] if t.ndim else 0
        if name.endswith("conv.weight"):
            state[name] = torch.randn(t.shape, generator=g) * math.sqrt(2 / t[0].numel())
        elif name.endswith(("running_mean", "bn.bias")):
            state[name] = torch.randn(n, generator=g) * 0.1
        elif name.endswith("running_var"):
            state[name] = torch.rand(n, generator=g) * 1.5 + 0.5
        elif name.endswith("bn.weight"):
            state[name] = torch.rand(n, generator=g) + 0.5
        elif not name.endswith("num_batches_tracked"):
            raise AssertionError(f"unexpected FID Inception tensor {name}")
    return state


def require_shared(*parts: str) -> Path:
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data missing: {p}")
    return p


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Decoded data sets go to a cache inside the test session's temporary folder, not ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))


def bomb_png(path: Path, side: int = 15_000) -> Path:
    """A valid 1-bit PNG of side x side pixels (15000: 225 Mpx, over twice PIL's bomb limit) in ~30 KB.

    Written by hand (PIL would first allocate the whole image): header, one compressed run of zero
    rows, end.
    """
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte, then the packed bits
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    pixels = zlib.compress(row * side, 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path
