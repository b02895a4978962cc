"""Data loading: the decode cache and memory-mapped training data, on a synthetic 20,000-image 128 px folder.

Prints: the first decode of the folder into the cache (seconds), the start of a second run (the cache hit),
and the peak RSS of a short `gan train dcgan --size 128 -b 32 -o ngf=16 -o ndf=16` (a small model, so that the
data dominates) with the data memory-mapped (the default) against
the same run with `--in-memory` (the whole data set copied into RAM), each in its own process.

    python benchmarks/bench_data.py [--n 20000] [--size 128] [--steps 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / ".bench"


def make_folder(folder: Path, n: int, size: int) -> None:
    """n PNGs of smooth random blobs (compress like photos more than noise does), in 20 subfolders."""
    if folder.exists() and len(list(folder.rglob("*.png"))) == n:
        return
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(n):
        c = rng.random((3, 3))
        img = np.stack([np.sin(6 * (c[k, 0] * xx + c[k, 1] * yy) + 6 * c[k, 2]) for k in range(3)], -1)
        sub = folder / f"{i % 20:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(((img + 1) * 127.5).astype(np.uint8)).save(sub / f"{i:05d}.png")


def child(code: str, env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of a Python child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024, p.stdout


def train_peak(folder: Path, size: int, steps: int, env: dict[str, str], in_memory: bool) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of a training run, in a fresh process."""
    cmd = [str(Path(sys.executable).with_name("gan")), "train", "dcgan", "--data", str(folder), "--size", str(size),
           "--steps", str(steps), "--quiet", "--out", tempfile.mkdtemp(dir=BENCH), "-b", "32", "-o", "ngf=16", "-o",
           "ndf=16"]
    code = "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); " \
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code, *cmd, *(["--in-memory"] if in_memory else [])], env=env,
                       capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, int(p.stdout.split()[-1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    folder = BENCH / f"data-{args.n}-{args.size}"
    t0 = time.perf_counter()
    make_folder(folder, args.n, args.size)
    print(f"folder: {args.n} PNGs of {args.size} px in {folder} (made or found in {time.perf_counter() - t0:.0f} s)")
    cache = Path(tempfile.mkdtemp(dir=BENCH.mkdir(exist_ok=True) or BENCH, prefix="cache-"))
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "GAN_CLI_OFFLINE": "1"}
    load = f"from gan_cli.io.datasets import load_data; d = load_data({str(folder)!r}, {args.size}); print(len(d))"
    first, rss1, _ = child(load, env)
    second, rss2, _ = child(load, env)
    raw_mb = args.n * args.size * args.size * 3 / 2**20
    print(f"first run, decode into the cache:  {first:7.1f} s   (peak RSS {rss1:.0f} MB; data {raw_mb:.0f} MB)")
    print(f"second run, start from the cache:  {second:7.1f} s")
    for in_memory in (False, True):
        wall, peak = train_peak(folder, args.size, args.steps, env, in_memory)
        label = "--in-memory (loaded)" if in_memory else "memory-mapped (default)"
        print(f"train dcgan {args.size}px, {args.steps} steps, {label:<24} peak RSS {peak:6.0f} MB, {wall:.0f} s")


if __name__ == "__main__":
    main()
