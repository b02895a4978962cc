#!/usr/bin/env bash
# Class-conditional digits: one row per class, then a page of sevens.
set -euo pipefail
ckpt=$(gan train cgan --data mnist --steps 3000)
gan sample --weights "$ckpt" --rows 10 --cols 8 --out cgan-all.png
gan sample --weights "$ckpt" --class 7 --rows 2 --cols 8 --out cgan-sevens.png
