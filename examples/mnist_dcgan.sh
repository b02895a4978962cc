#!/usr/bin/env bash
# Train DCGAN on MNIST, then sample a reproducible grid and 1,000 single images.
set -euo pipefail
ckpt=$(gan train dcgan --data mnist --steps 3000)           # last stdout line: the final checkpoint
gan sample --weights "$ckpt" --seed 233 --rows 3 --cols 5 --out dcgan-grid.png
gan sample --weights "$ckpt" --n 1000 --out dcgan-fakes/ --save-latents dcgan-z.npy > /dev/null
gan info "$ckpt"
