#!/usr/bin/env bash
# StyleGAN2 on MNIST at 32 px on a CPU (the README's figures), then the seed grid, a style-mixing figure,
# a walk through latent space and the FID of 2,000 samples against 2,000 training digits.
set -euo pipefail
ckpt=$(gan train stylegan2 --data mnist --out runs/sg2-mnist)    # the family's CPU defaults
gan sample --weights "$ckpt" --seed 233 --rows 3 --cols 5 --out stylegan2-seed233.png
gan mix --weights "$ckpt" --row-seeds 1,2,3,4 --col-seeds 5,6,7,8,9 --styles coarse --out stylegan2-mix-coarse.png
gan sample --weights "$ckpt" --interpolate 1,2,3,4 --frames 12 --out stylegan2-walk.gif
gan sample --weights "$ckpt" --seeds 0-35 --truncation 0.7 --out stylegan2-seeds/ > /dev/null
python3 - <<'PY'
from pathlib import Path
from PIL import Image
from gan_cli.io.datasets import load_data
out = Path("mnist-2000"); out.mkdir(exist_ok=True)
data = load_data("mnist", 32)
for i in range(2000):
    Image.fromarray(data.main.images[i, :, :, 0]).save(out / f"{i:05d}.png")
PY
gan eval-fid mnist-2000/ runs/sg2-mnist/generator.safetensors --n 2000 --seed 5
