#!/usr/bin/env bash
# pix2pix on a paired task made from real MNIST digits: outline -> digit, 32 px, on the CPU.
# Training: 32,000 images, 6.5 CPU-minutes of one 2.8 GHz Xeon core (OMP_NUM_THREADS=1; ~48 img/s alone), then
# translates 64 held-out outlines and makes the README picture (input | output | target).
# Run from anywhere; everything goes into $WORK (default: ./pix2pix-edges-demo).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
WORK="${WORK:-pix2pix-edges-demo}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
mkdir -p "$WORK" && cd "$WORK"

python "$HERE/mnist_translation_data.py" edges data/edges2digits   # A/ outlines, B/ digits, test/ held out
gan train pix2pix --data data/edges2digits --size 32 \
    -o netG=unet_32 -o ngf=32 -o ndf=32 \
    --batch-size 16 --steps 2000 --sample-every 250 --ckpt-every 500 --out runs/pix2pix-edges
gan translate pix2pix data/edges2digits/test/A out/ --weights runs/pix2pix-edges --overwrite > /dev/null
python "$HERE/triptych.py" data/edges2digits/test/A out data/edges2digits/test/B pix2pix-edges.png --n 16
