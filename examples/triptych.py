"""A README picture from three folders with the same file stems: rows of input | output | target, enlarged.

python examples/triptych.py IN_DIR OUT_DIR TARGET_DIR picture.png [--n 16] [--per-row 4] [--scale 3]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image


def load(folder: Path, stem: str) -> np.ndarray:
    path = next(p for p in sorted(folder.glob(stem + ".*")))
    return np.asarray(Image.open(path).convert("RGB"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", type=Path)
    ap.add_argument("outputs", type=Path)
    ap.add_argument("targets", type=Path)
    ap.add_argument("picture", type=Path)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--per-row", type=int, default=4, help="triples per row")
    ap.add_argument("--scale", type=int, default=3)
    args = ap.parse_args()
    stems = sorted(p.stem for p in args.inputs.iterdir() if p.is_file())[: args.n]
    gap = 2
    cells = []
    for stem in stems:
        triple = [load(d, stem) for d in (args.inputs, args.outputs, args.targets)]
        h = triple[0].shape[0]
        sep = np.full((h, gap, 3), 128, np.uint8)
        cells.append(np.concatenate([triple[0], sep, triple[1], sep, triple[2]], 1))
    h, w = cells[0].shape[:2]
    rows = []
    for i in range(0, len(cells), args.per_row):
        row = cells[i : i + args.per_row] + [np.full((h, w, 3), 255, np.uint8)] * (args.per_row - len(cells[i:]))
        pad = np.full((h, 3 * gap, 3), 255, np.uint8)
        rows.append(np.concatenate(sum(([c, pad] for c in row), [])[:-1], 1))
        rows.append(np.full((3 * gap, rows[-1].shape[1], 3), 255, np.uint8))
    grid = np.concatenate(rows[:-1], 0)
    img = Image.fromarray(grid).resize((grid.shape[1] * args.scale, grid.shape[0] * args.scale), Image.NEAREST)
    img.save(args.picture)
    print(args.picture)


if __name__ == "__main__":
    main()
