#!/usr/bin/env bash
# StyleGAN (v1) on MNIST, growing 4 -> 32 px on a CPU (the family's defaults: 40 kimg stable and 40 kimg
# fading per resolution, batch 64, 4,690 steps: 27 minutes on a 2-core CPU), then the seed grid, a
# style-mixing figure (coarse = the 4-8 px layers) and the FID of 2,000 samples against 2,000 training digits.
set -euo pipefail
ckpt=$(gan train stylegan --data mnist --out runs/stylegan-mnist)
gan info "$ckpt"
gan sample --weights "$ckpt" --seed 233 --rows 3 --cols 5 --out stylegan-seed233.png
gan mix --weights "$ckpt" --row-seeds 1,2,3,4 --col-seeds 5,6,7,8,9 --styles coarse --out stylegan-mix-coarse.png
gan sample --weights "$ckpt" --seeds 0-35 --truncation 0.7 --out stylegan-seeds/ > /dev/null
python3 - <<'PY'
from pathlib import Path
from PIL import Image
from gan_cli.io.datasets import load_data
out = Path("mnist-2000"); out.mkdir(exist_ok=True)
data = load_data("mnist", 32)
for i in range(2000):
    Image.fromarray(data.main.images[i, :, :, 0]).save(out / f"{i:05d}.png")
PY
gan eval-fid mnist-2000/ runs/stylegan-mnist/generator.safetensors --n 2000 --seed 5
