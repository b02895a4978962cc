"""End-to-end FID benchmark: `gan eval-fid` against a plain loop written the way pytorch-fid works.

    .venv/bin/python benchmarks/bench_fid.py [--n 2000] [--weights PATH]

Builds two sets of N PNGs (64x64, colourised MNIST digits: train digits for A, test digits with
another tint for B) under .bench/fid/ (git-ignored, reused), then runs, each in its own process
so that peak memory is its own:

- baseline: pytorch-fid 0.3.0's procedure: PIL decode in the main process, ToTensor, batches of
  50, the plain network (conv, BatchNorm, ReLU, NCHW) under no_grad, every activation kept in a
  float64 array, numpy mean/cov, scipy.linalg.sqrtm of the covariance product;
- gan-cli: the function behind `gan eval-fid A B` (threaded decode, fused channels-last network
  run one batch of 8 per core, streaming float64 statistics, trace of the root from Cholesky
  factors and one symmetric eigenvalue solve).

Then times scipy.linalg.sqrtm against gan-cli's trace_sqrt_product on 2048x2048 covariances: the
run's (rank-deficient: 2,000 < 2,048 images) and full-rank ones (3,000 of the same features).
Prints seconds, images/s, peak RSS, both FIDs and their relative difference, the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / ".bench" / "fid"
MNIST = ROOT.parent / "shared" / "data" / "mnist"
WEIGHTS = ROOT.parent / "shared" / "data" / "fid" / "pt_inception-2015-12-05.safetensors"


# --- data -----------------------------------------------------------------------------------------------
def make_set(folder: Path, digits: np.ndarray, n: int, seed: int, tint: tuple[float, float, float]) -> Path:
    """n 64x64 RGB PNGs: digits upscaled (bicubic), coloured with a jittered tint on a tinted background."""
    from PIL import Image

    if folder.is_dir() and len(list(folder.glob("*.png"))) == n:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        g = np.asarray(Image.fromarray(digits[i]).resize((64, 64), Image.Resampling.BICUBIC), np.float32) / 255
        fg = np.clip(np.array(tint) + rng.normal(0, 0.15, 3), 0, 1)
        bg = np.clip(rng.uniform(0, 0.35, 3), 0, 1)
        rgb = g[..., None] * fg + (1 - g[..., None]) * bg
        Image.fromarray((rgb * 255 + 0.5).astype(np.uint8)).save(folder / f"{i:05d}.png")
    return folder


def prepare_data(n: int) -> tuple[Path, Path]:
    from gan_cli.io.datasets import read_idx

    a = make_set(BENCH / f"a{n}", read_idx(MNIST / "train-images-idx3-ubyte.gz"), n, 0, (1.0, 0.8, 0.2))
    b = make_set(BENCH / f"b{n}", read_idx(MNIST / "t10k-images-idx3-ubyte.gz"), n, 1, (0.9, 0.6, 0.4))
    return a, b


# --- the two contenders, each in a child process ----------------------------------------------------------
def run_baseline(a: Path, b: Path, weights: Path, out: Path) -> dict:
    import torch
    from PIL import Image
    from scipy import linalg

    from gan_cli.metrics.weights import load_inception

    t0 = time.perf_counter()
    net = load_inception(weights)
    times = {}

    def activations(folder: Path) -> np.ndarray:
        files = sorted(folder.glob("*.png"))
        acts = np.empty((len(files), 2048))
        for start in range(0, len(files), 50):
            batch = []
            for f in files[start : start + 50]:
                arr = np.array(Image.open(f).convert("RGB"))
                batch.append(torch.from_numpy(arr).permute(2, 0, 1).contiguous().float().div(255))
            with torch.no_grad():
                pred = net(torch.stack(batch))  # resizes to 299 bilinear, 2x-1, pool3
            acts[start : start + len(batch)] = pred.numpy()
        return acts

    stats, feats = [], []
    for name, folder in (("a", a), ("b", b)):
        t = time.perf_counter()
        acts = activations(folder)
        stats.append((np.mean(acts, axis=0), np.cov(acts, rowvar=False)))
        times[f"features_{name}_s"] = time.perf_counter() - t
        feats.append(acts)
    (mu1, s1), (mu2, s2) = stats
    t = time.perf_counter()
    covmean = linalg.sqrtm(s1.dot(s2))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    diff = mu1 - mu2
    fid = float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))
    times["sqrtm_s"] = time.perf_counter() - t
    # for the square-root benchmark: two full-rank covariances (3,000 samples each) of the same features
    f1, f2 = np.concatenate([feats[0], feats[1][:1000]]), np.concatenate([feats[1], feats[0][:1000]])
    np.savez(out, s1=s1, s2=s2, full1=np.cov(f1, rowvar=False), full2=np.cov(f2, rowvar=False))
    return {"fid": fid, "total_s": time.perf_counter() - t0, **times}


def run_gan_cli(a: Path, b: Path, weights: Path, workers: int) -> dict:
    from gan_cli.metrics.evaluate import EvalOptions, evaluate

    t0 = time.perf_counter()
    res = evaluate(a, b, EvalOptions(inception=weights, workers=workers, device="cpu"))
    return {"fid": res["fid"], "total_s": time.perf_counter() - t0}


def child(args: argparse.Namespace) -> None:
    a, b = Path(args.a), Path(args.b)
    if args.child == "baseline":
        res = run_baseline(a, b, Path(args.weights), Path(args.stats))
    else:
        res = run_gan_cli(a, b, Path(args.weights), args.workers)
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(res))


def spawn(mode: str, a: Path, b: Path, args: argparse.Namespace, stats: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--a", str(a), "--b", str(b)]
    cmd += ["--weights", str(args.weights), "--stats", str(stats), "--workers", str(args.workers)]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        sys.exit(f"{mode} failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def bench_sqrt(stats: Path, reps: int = 3) -> list[str]:
    """scipy.linalg.sqrtm (as pytorch-fid) vs gan-cli's trace_sqrt_product on 2048x2048 covariances."""
    from scipy import linalg

    from gan_cli.metrics.fid import trace_sqrt_product

    lines = []
    with np.load(stats) as f:
        pairs = {
            "rank-deficient (2,000 images)": (f["s1"], f["s2"]),
            "full-rank (3,000 images)": (f["full1"], f["full2"]),
        }
    for name, (s1, s2) in pairs.items():
        t = time.perf_counter()
        ref = float(np.trace(linalg.sqrtm(s1.dot(s2))).real)
        scipy_s = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(reps):
            ours = trace_sqrt_product(s1, s2)
        ours_s = (time.perf_counter() - t) / reps
        lines.append(
            f"sqrt 2048x2048 {name}: scipy.linalg.sqrtm {scipy_s:.2f} s, gan-cli {ours_s:.2f} s "
            f"({scipy_s / ours_s:.1f}x); tr sqrt {ref:.6f} vs {ours:.6f}"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="images per side")
    ap.add_argument("--weights", default=os.environ.get("GAN_CLI_INCEPTION", str(WEIGHTS)))
    ap.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    ap.add_argument("--only", choices=("baseline", "gan-cli"), help="run one side only")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--a", help=argparse.SUPPRESS)
    ap.add_argument("--b", help=argparse.SUPPRESS)
    ap.add_argument("--stats", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)

    a, b = prepare_data(args.n)
    stats = BENCH / "baseline-stats.npz"
    print(f"{args.n} vs {args.n} PNGs (64x64) in {BENCH}; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}")
    results = {}
    for mode in ("baseline", "gan-cli"):
        if args.only in (None, mode):
            results[mode] = spawn(mode, a, b, args, stats)
            r = results[mode]
            rate = 2 * args.n / r["total_s"]
            mem = f"peak RSS {r['peak_rss_mb']:6.0f} MB"
            print(f"{mode:9s} {r['total_s']:8.1f} s  {rate:5.1f} img/s  {mem}  FID {r['fid']:.6f}")
            if mode == "baseline":
                print("          " + ", ".join(f"{k} {v:.1f}" for k, v in r.items() if k.endswith("_s")))
    if len(results) == 2:
        base, ours = results["baseline"], results["gan-cli"]
        print(f"speed-up  {base['total_s'] / ours['total_s']:.2f}x end to end")
        print(f"FID relative difference {abs(ours['fid'] - base['fid']) / abs(base['fid']):.2e}")
    if stats.exists():
        for line in bench_sqrt(stats):
            print(line)
    print(f"load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
