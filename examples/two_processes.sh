#!/usr/bin/env bash
# Data-parallel training on several GPUs (or CPU processes with the gloo backend).
set -euo pipefail
torchrun --standalone --nproc_per_node=2 -m gan_cli train dcgan --data mnist --batch-size 128 --out runs/ddp
