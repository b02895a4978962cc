#!/usr/bin/env bash
# Does an EMA generator help DCGAN at the README's budget? One run per seed with `-o ema_kimg=K`
# (3,000 steps on MNIST, the default precision), then the FID of 2,000 samples against 2,000 training
# digits for the trained G and for its EMA average G_ema, from the same run and the same sample seeds.
# About 20 minutes per seed on 2 quiet CPU cores. Works in .bench/ema/ (real.npz shared with amp_quality.sh).
#   EMA_KIMG=10 SEEDS="0 1" benchmarks/ema_quality.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
G=${GAN:-$ROOT/.venv/bin/gan}
PY=${PYTHON:-$ROOT/.venv/bin/python}
export GAN_CLI_INCEPTION=${GAN_CLI_INCEPTION:-$ROOT/../shared/data/fid/pt_inception-2015-12-05.safetensors}
mkdir -p "$ROOT/.bench/ema" && cd "$ROOT/.bench/ema"
if [ ! -f real.npz ]; then
  "$PY" -c '
from pathlib import Path
from PIL import Image
from gan_cli.io.datasets import load_data
data, out = load_data("mnist", 32), Path("real")
out.mkdir(exist_ok=True)
for i in range(2000):
    Image.fromarray(data.main.images[i, :, :, 0]).save(out / f"{i:05d}.png")'
  "$G" eval-fid real real --save-stats real.npz > /dev/null
fi
for seed in ${SEEDS:-0 1}; do
  run=ema${EMA_KIMG:-10}-seed$seed
  if [ ! -f "$run/generator.safetensors" ]; then
    start=$(date +%s)
    "$G" train dcgan --data mnist -o ema_kimg="${EMA_KIMG:-10}" --seed "$seed" --out "$run" --quiet > /dev/null
    echo "$run: trained in $(( $(date +%s) - start )) s"
  fi
  # The trained G alone (what a run without EMA would sample), written as a generator checkpoint.
  "$PY" -c '
import sys
from gan_cli.io import checkpoint as ck
t, meta = ck.load(sys.argv[1])
ck.save(sys.argv[2], {k: v for k, v in t.items() if k.startswith("G.")}, {**meta, "kind": "generator"})' \
    "$(ls "$run"/checkpoints/step-*.safetensors | tail -1)" "$run/G-only.safetensors"
  echo "$run: FID G     $("$G" eval-fid real.npz "$run/G-only.safetensors" --n 2000 --seed 5 2> /dev/null)"
  echo "$run: FID G_ema $("$G" eval-fid real.npz "$run/generator.safetensors" --n 2000 --seed 5 2> /dev/null)"
done
