#!/usr/bin/env bash
# Does bf16 autocast hurt DCGAN's samples? fp32 (--amp off) against bf16 (--amp on), two seeds each,
# the README's 3,000 steps on MNIST; FID of 2,000 samples against 2,000 training digits.
# Prints each run's training seconds and FID. About 40 minutes on 2 CPU cores. Work in .bench/amp/.
#   GAN_CLI_INCEPTION=path/to/pt_inception-2015-12-05.safetensors benchmarks/amp_quality.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
G=${GAN:-$ROOT/.venv/bin/gan}
PY=${PYTHON:-$ROOT/.venv/bin/python}
export GAN_CLI_INCEPTION=${GAN_CLI_INCEPTION:-$ROOT/../shared/data/fid/pt_inception-2015-12-05.safetensors}
mkdir -p "$ROOT/.bench/amp" && cd "$ROOT/.bench/amp"
if [ ! -f real.npz ]; then
  "$PY" - <<'PY'
from pathlib import Path

from PIL import Image

from gan_cli.io.datasets import load_data

data, out = load_data("mnist", 32), Path("real")
out.mkdir(exist_ok=True)
for i in range(2000):
    Image.fromarray(data.main.images[i, :, :, 0]).save(out / f"{i:05d}.png")
PY
  "$G" eval-fid real real --save-stats real.npz > /dev/null
fi
for amp in off on; do
  for seed in 0 1; do
    run=amp-$amp-seed$seed
    if [ ! -f "$run/generator.safetensors" ]; then
      start=$(date +%s)
      "$G" train dcgan --data mnist --amp "$amp" --seed "$seed" --out "$run" --quiet > /dev/null
      echo "$run: trained in $(( $(date +%s) - start )) s"
    fi
    echo "$run: FID $("$G" eval-fid real.npz "$run/generator.safetensors" --n 2000 --seed 5 2> /dev/null)"
  done
done
