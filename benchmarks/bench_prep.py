"""Throughput of face prep (detect, align, segment, composite) on 512 px photos, on this CPU.

Compares, in the same run, the way `gan prep` works (MediaPipe detectors and segmenter created
once, reused for every photo) with the obvious way (create them for each photo), and prints the
images/s of both and their ratio. Writing PNGs is left out: this measures the face work.

    .venv/bin/python benchmarks/bench_prep.py [--n 24] [--size 256] [--bg white] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gan_cli.faces.prep import FacePrep  # noqa: E402

FACES = (ROOT / ".." / "shared" / "data" / "faces").resolve()


def photos(n: int) -> list[np.ndarray]:
    """n 512x512 photos: the two shared portraits, rotated by -20..20 degrees and mirrored."""
    base = []
    for name in ("astronaut.png", "grace_hopper.jpg"):
        img = np.asarray(Image.open(FACES / name).convert("RGB"))
        h, w = img.shape[:2]
        top = (h - w) // 2 if h > w else 0
        base.append(cv2.resize(img[top : top + min(h, w), :], (512, 512), interpolation=cv2.INTER_AREA))
    out = []
    for i in range(n):
        img = base[i % 2] if (i // 2) % 2 == 0 else np.ascontiguousarray(base[i % 2][:, ::-1])
        angle = -20 + 40 * (i % 5) / 4
        m = cv2.getRotationMatrix2D((255.5, 255.5), angle, 1.0)
        out.append(cv2.warpAffine(img, m, (512, 512), borderValue=(128, 128, 128)))
    return out


def one_pass(fn: Callable[[np.ndarray], int], images: list[np.ndarray]) -> tuple[float, int]:
    """images/s of one pass over the photos, and the faces found."""
    start = time.perf_counter()
    faces = sum(fn(img) for img in images)
    return len(images) / (time.perf_counter() - start), faces


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=24, help="photos per pass")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--bg", default="white", choices=("white", "keep", "transparent"))
    ap.add_argument("--repeat", type=int, default=3, help="passes of each way, interleaved; the best counts")
    args = ap.parse_args()
    images = photos(args.n)

    def fresh(img: np.ndarray) -> int:
        with FacePrep(size=args.size, bg=args.bg) as p:
            return len(p.process(img))

    reused = per_image = 0.0
    with FacePrep(size=args.size, bg=args.bg) as prep:
        prep.process(images[0])  # warm-up
        fresh(images[0])
        for _ in range(args.repeat):  # interleaved, so a busy machine slows both ways alike
            rate, faces = one_pass(lambda img: len(prep.process(img)), images)
            reused = max(reused, rate)
            rate, faces_fresh = one_pass(fresh, images)
            per_image = max(per_image, rate)
            assert faces == faces_fresh == len(images), (faces, faces_fresh)

    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    setup = f"{args.n} photos 512x512 -> {args.size}px, bg {args.bg}, best of {args.repeat}"
    print(f"gan prep, {setup}; {os.cpu_count()} CPU cores, load average {load}")
    print(f"  models created once (gan prep):   {reused:6.1f} images/s  ({1000 / reused:.0f} ms/image)")
    print(f"  models created per image (plain): {per_image:6.1f} images/s  ({1000 / per_image:.0f} ms/image)")
    print(f"  ratio: {reused / per_image:.2f}x")


if __name__ == "__main__":
    main()
