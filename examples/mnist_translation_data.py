"""Two translation data sets made from real MNIST digits, for the CPU demos of pix2pix and CycleGAN.

    python examples/mnist_translation_data.py edges   data/edges2digits  [--n 6000]
    python examples/mnist_translation_data.py strokes data/thin2thick    [--n 3000]

edges: paired, `A/` holds each digit's outline (the 1-pixel ring just outside its ink, ink being
grey level > 127), `B/` the digit itself, same file names; `test/A`, `test/B` hold 64 held-out pairs.
strokes: unpaired, `trainA/` thin digits (grey-level erosion, 2x2) from the first half of MNIST,
`trainB/` thick digits (grey-level dilation, 3x3) from the second half, so no digit is in both;
`testA/`, `testB/` hold 64 held-out digits of each (with the other domain's version beside them
in `testA_target/`, `testB_target/`, for the pictures only).
Digits are padded from 28 to 32 pixels (MNIST's own 2-pixel margin grows to 4), grey PNGs.
MNIST comes from gan_cli.io.mnist.load_mnist() ($GAN_CLI_DATA/mnist, the cache, or the bundled 5k).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from gan_cli.io.mnist import load_mnist

TEST = 64


def edges(digit: np.ndarray) -> np.ndarray:
    ink = digit > 127
    return np.where(ndimage.binary_dilation(ink) & ~ink, 255, 0).astype(np.uint8)


def thin(digit: np.ndarray) -> np.ndarray:
    return ndimage.grey_erosion(digit, size=(2, 2))


def thick(digit: np.ndarray) -> np.ndarray:
    return ndimage.grey_dilation(digit, size=(3, 3))


def save(arr: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, "L").save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kind", choices=("edges", "strokes"))
    ap.add_argument("out", type=Path)
    ap.add_argument("--n", type=int, default=0, help="training images per domain (default: 6000 edges, 3000 strokes)")
    args = ap.parse_args()
    digits, _, where = load_mnist()
    digits = np.pad(digits, ((0, 0), (2, 2), (2, 2)))
    n = args.n or (6000 if args.kind == "edges" else 3000)
    if args.kind == "edges":
        for i in range(n + TEST):
            split = "test/" if i >= n else ""
            save(edges(digits[i]), args.out / f"{split}A" / f"{i:05d}.png")
            save(digits[i], args.out / f"{split}B" / f"{i:05d}.png")
    else:
        half = len(digits) // 2
        if n + TEST > half:
            raise SystemExit(f"--n {n}: at most {half - TEST} with {len(digits)} digits")
        for i in range(n + TEST):
            a, b = digits[i], digits[half + i]
            if i < n:
                save(thin(a), args.out / "trainA" / f"{i:05d}.png")
                save(thick(b), args.out / "trainB" / f"{i:05d}.png")
            else:
                save(thin(a), args.out / "testA" / f"{i:05d}.png")
                save(thick(a), args.out / "testA_target" / f"{i:05d}.png")
                save(thick(b), args.out / "testB" / f"{i:05d}.png")
                save(thin(b), args.out / "testB_target" / f"{i:05d}.png")
    print(f"{args.kind}: {n} training images per domain from MNIST ({where}) in {args.out}")


if __name__ == "__main__":
    main()
