"""Draw docs/img/ugatit-strokes.png from the run of examples/ugatit_strokes.sh: digits the run never saw
(the first held-out ones of its shuffled order), as written and thickened, and what each generator makes of them.

Rows: A (as written) | genA2B(A) | B (thickened by 3x3 dilation) | genB2A(B); 3x nearest upscale.

.venv/bin/python docs/img/make_ugatit_figure.py ugatit-strokes/run/generator.safetensors
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import grey_dilation

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from gan_cli.io.images import make_grid, tensor_to_pil  # noqa: E402
from gan_cli.io.mnist import load_mnist  # noqa: E402
from gan_cli.sampling import load_model  # noqa: E402

N = 12


def main(weights: str) -> None:
    model = load_model(weights)
    digits = load_mnist()[0]
    held_out = np.random.default_rng(0).permutation(len(digits))[4000 : 4000 + N]  # as examples/ugatit_strokes.sh
    thin = np.pad(digits[held_out], ((0, 0), (2, 2), (2, 2)))
    thick = np.stack([grey_dilation(d, size=(3, 3)) for d in thin])
    a, b = (torch.from_numpy(x).float().div(127.5).sub(1)[:, None] for x in (thin, thick))
    rows = [a, model.translate(a, "AtoB"), b, model.translate(b, "BtoA")]
    grid = tensor_to_pil(make_grid(torch.cat(rows), len(rows), N))
    out = ROOT / "docs" / "img" / "ugatit-strokes.png"
    grid.resize((grid.width * 3, grid.height * 3), resample=0).save(out)
    print(out)


if __name__ == "__main__":
    main(sys.argv[1])
