#!/usr/bin/env bash
# StyleGAN2 on one GPU: training seconds per 1,000 images at 256 px (batch 32, bf16 mixed precision,
# NVlabs' paper256 network: channel_base 16384, channel_max 512, 8-layer mapping, w 512) and generator
# images/s at 1024 px (the paper's config F network, fp32 and bf16). Random data: speed only.
#   benchmarks/gpu_stylegan2.sh [STEPS]      (AMP=off for fp32; SIZE=32 SMALL=1 for a quick CPU dry run)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
STEPS=${1:-120}
SIZE=${SIZE:-256}
WORK=$(mktemp -d)
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH} GAN_CLI_OFFLINE=1 XDG_CACHE_HOME=$WORK/cache
NET="-o channel_base=16384 -o channel_max=512 -o style_dim=512 -o n_mlp=8 -o r1=1"
[ -n "${SMALL:-}" ] && NET="-o channel_base=256 -o channel_max=8 -o style_dim=16 -o n_mlp=1"
"$PY" -c "import numpy as np; np.save('$WORK/d.npy', np.random.default_rng(0).integers(0, 255, (512, $SIZE, $SIZE, 3), dtype=np.uint8))"
start=$(date +%s)
"$PY" -m gan_cli train stylegan2 --data "$WORK/d.npy" --size "$SIZE" -b 32 --amp ${AMP:-on} $NET --steps "$STEPS" \
  --sample-every 100000 --ckpt-every 100000 --out "$WORK/run" --quiet > /dev/null
echo "train: $STEPS steps in $(( $(date +%s) - start )) s (with start-up)"
"$PY" - "$WORK/run/metrics.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(x) for x in open(sys.argv[1])]
img_s = statistics.median(r["img_s"] for r in rows[2:] or rows)
print(f"train: {img_s:.1f} img/s (median of {len(rows[2:] or rows)} logs after warm-up) = {1000 / img_s:.1f} s/kimg")
PY
"$PY" - ${SMALL:+small} <<'PY'
import sys, time, torch
from gan_cli.models.stylegan2 import StyleGAN2, StyleGAN2Options
small = len(sys.argv) > 1
dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
opts = StyleGAN2Options(style_dim=16, n_mlp=1, channel_base=256, channel_max=8) if small else \
    StyleGAN2Options(style_dim=512, n_mlp=8, channel_base=32768, channel_max=512)
size = 64 if small else 1024
fam = StyleGAN2(opts, size, 3)
G = fam.build()["G"].to(dev).eval()
for batch in (1, 8):
    for name, ctx in (("fp32", torch.autocast(dev.type, enabled=False)), ("bf16", torch.autocast(dev.type, torch.bfloat16))):
        z = torch.randn(batch, 512 if not small else 16, device=dev)
        with torch.no_grad(), ctx:
            for _ in range(3):
                fam.generate({"G": G}, z)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0, n = time.perf_counter(), 0
            while time.perf_counter() - t0 < 5:
                fam.generate({"G": G}, z)
                n += batch
            if dev.type == "cuda":
                torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else 0
        print(f"generator {size} px, batch {batch}, {name}: {n / (time.perf_counter() - t0):.1f} img/s (peak {peak:.1f} GiB)")
PY
