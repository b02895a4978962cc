#!/usr/bin/env bash
# CycleGAN on an unpaired task made from real MNIST digits: thin strokes <-> thick strokes, 32 px, on the CPU.
# Domain A: eroded digits from the first half of MNIST; domain B: dilated digits from the second half
# (no digit appears in both). Training: 6,000 images, 5.2 CPU-minutes of one 2.8 GHz Xeon core.
# Then both directions on 64 held-out digits of each domain, and the README pictures
# (input | output | the same digit's other version, which the model never saw).
# Run from anywhere; everything goes into $WORK (default: ./cyclegan-strokes-demo).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
WORK="${WORK:-cyclegan-strokes-demo}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
mkdir -p "$WORK" && cd "$WORK"

python "$HERE/mnist_translation_data.py" strokes data/thin2thick   # trainA/ thin, trainB/ thick, test*/ held out
gan train cyclegan --data data/thin2thick --size 32 \
    -o netG=resnet_6blocks -o ngf=8 -o ndf=8 \
    --batch-size 4 --steps 1500 --sample-every 250 --ckpt-every 500 --out runs/cyclegan-strokes
gan translate cyclegan data/thin2thick/testA out/AtoB --weights runs/cyclegan-strokes --overwrite > /dev/null
gan translate cyclegan data/thin2thick/testB out/BtoA --weights runs/cyclegan-strokes --direction BtoA --overwrite > /dev/null
python "$HERE/triptych.py" data/thin2thick/testA out/AtoB data/thin2thick/testA_target cyclegan-thin2thick.png --n 8
python "$HERE/triptych.py" data/thin2thick/testB out/BtoA data/thin2thick/testB_target cyclegan-thick2thin.png --n 8
