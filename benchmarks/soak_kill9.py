"""kill -9 soak: a tiny DCGAN run killed at random moments, resumed each time, must end as if never killed.

    OMP_NUM_THREADS=1 python benchmarks/soak_kill9.py [--kills 20] [--steps 120] [--seed 0] [--work DIR]

1. An uninterrupted run of --steps steps (checkpoints every 3 steps) gives the reference weights.
2. A second run into another folder is started, then SIGKILLed at a random moment of its training (after
   its start-up, uniform over the time its next 12 steps take, checkpoint writes included), and resumed
   with `--resume`; --kills times. A kill that lands before the first checkpoint restarts the run from
   scratch (nothing to resume), as a user would; a run that finished before its kill is started over.
3. The last resume runs to the end. Checked: every tensor of the final full checkpoint and of
   generator.safetensors is bit-equal to the reference run's; no temporary file (`.*.tmp*`) is left in
   the run folder; every checkpoint in checkpoints/ loads.
Prints one JSON line of figures; exit 1 if a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

GAN = [sys.executable, "-m", "gan_cli"]
WINDOW = 12  # each kill lands within the next 12 steps of training (4 checkpoints): kills spread over the run
TINY = ["--batch-size", "8", "-o", "ngf=8", "-o", "ndf=8", "-o", "z_dim=16", "--ckpt-every", "3"]


def make_data(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(32):
        Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    return folder


def train(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([*GAN, "train", "dcgan", *args, "--quiet"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def wait_for_training(run: Path, after_ns: int, p: subprocess.Popen) -> None:
    """Until the run (re)writes config.json, which it does as its training loop starts."""
    config = run / "config.json"
    while p.poll() is None and not (config.exists() and config.stat().st_mtime_ns >= after_ns):
        time.sleep(0.005)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one, removed)")
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="gan-soak-"))
    env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache"), "GAN_CLI_OFFLINE": "1"}
    data = str(make_data(work / "data"))
    base = ["--data", data, "--steps", str(a.steps), *TINY]

    t0 = time.perf_counter()
    ref = train([*base, "--out", str(work / "ref")], env)
    out, err = ref.communicate()
    one_run = time.perf_counter() - t0
    if ref.returncode != 0:
        print(err, file=sys.stderr)
        return 1

    # the training loop's own duration: from config.json (written as it starts) to the last checkpoint
    last = work / "ref" / "checkpoints" / f"step-{a.steps:07d}.safetensors"
    train_s = (last.stat().st_mtime_ns - (work / "ref" / "config.json").stat().st_mtime_ns) / 1e9
    rng = random.Random(a.seed)
    run = work / "soak"
    kills, restarts, resumes_from = 0, 0, []
    while kills < a.kills:
        has_ckpt = any((run / "checkpoints").glob("step-*.safetensors"))
        args = ["--resume", str(run), "--steps", str(a.steps)] if has_ckpt else [*base, "--out", str(run)]
        if not has_ckpt:
            restarts += 1
        launched = time.time_ns()
        p = train(args, env)
        done = resumes_from[-1] if has_ckpt else 0
        wait_for_training(run, launched, p)
        time.sleep(rng.uniform(0.0, train_s * min(WINDOW, a.steps - done) / a.steps))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.communicate()
        found = sorted((run / "checkpoints").glob("step-*.safetensors"))
        resumes_from.append(int(found[-1].stem.split("-")[1]) if found else 0)
        if p.returncode == 0:  # it finished before the kill: start over so that every kill lands
            shutil.rmtree(run)
    final = train(["--resume", str(run), "--steps", str(a.steps)], env)
    out, err = final.communicate()
    if final.returncode != 0:
        print(err, file=sys.stderr)
        return 1

    problems = []
    for name in (f"checkpoints/step-{a.steps:07d}.safetensors", "generator.safetensors"):
        want, got = load_file(str(work / "ref" / name)), load_file(str(run / name))
        bad = [k for k in want if not torch.equal(want[k], got.get(k, torch.empty(0)))]
        if bad or set(want) != set(got):
            problems.append(f"{name}: {len(bad)} tensors differ (first: {bad[:3]})")
    temps = [str(p.relative_to(run)) for p in run.rglob(".*tmp*")]
    if temps:
        problems.append(f"temporary files left: {temps}")
    loaded = 0
    for ckpt in sorted((run / "checkpoints").glob("*.safetensors")):
        try:
            load_file(str(ckpt))
            loaded += 1
        except Exception as e:  # any failure to read is a corrupt file
            problems.append(f"{ckpt.name} does not load: {e}")
    figures = {
        "kills": kills,
        "restarts_from_scratch": restarts,
        "resumed_from_steps": resumes_from,
        "steps": a.steps,
        "uninterrupted_run_s": round(one_run, 1),
        "training_loop_s": round(train_s, 2),
        "soak_s": round(time.perf_counter() - t0, 1),
        "checkpoints_loaded": loaded,
        "temp_files_left": len(temps),
        "final_weights_bit_equal": not any("differ" in p for p in problems),
        "problems": problems,
    }
    print(json.dumps(figures))
    if a.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
