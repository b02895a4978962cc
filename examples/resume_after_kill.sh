#!/usr/bin/env bash
# A run killed half-way (Ctrl-C or SIGTERM saves a checkpoint first) continues exactly where it stopped.
set -euo pipefail
gan train wgan-gp --data mnist --steps 4000 --out runs/wgp &
sleep 60 && kill -TERM $!; wait $! || true
gan train wgan-gp --resume runs/wgp --steps 4000
