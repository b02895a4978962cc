#!/usr/bin/env bash
# The course's day-3 "Pixel2Pixel" portrait-to-cartoon pipeline, through plain files:
#   1. gan prep: each photo's face detected, aligned and put on white          -> $WORK/faces/NAME.png
#   2. gan translate photo2cartoon --no-prep: Photo2Cartoon makes the targets  -> $WORK/cartoons/NAME.png
#   3. gan train pix2pix on faces/ paired with cartoons/ by file name          -> $WORK/run/
#   4. gan translate pix2pix: new photos, prepared the same way, cartoonised   -> $WORK/out/NAME.png
# Usage: examples/photo_to_pix2pix.sh PHOTOS/ NEW_PHOTOS/
# Settings (environment): WORK (default ./photo-to-pix2pix), P2C_WEIGHTS (a checkpoint or pretrained name;
# default: the pretrained photo2cartoon, downloaded once), SIZE (256), STEPS (5000), PIX2PIX_OPTS (extra
# `gan train` flags, e.g. "-o netG=unet_32 -o ngf=2 -o ndf=2" for a smoke test).
set -euo pipefail
photos="${1:?usage: $0 PHOTOS/ NEW_PHOTOS/}"
new="${2:?usage: $0 PHOTOS/ NEW_PHOTOS/}"
WORK="${WORK:-photo-to-pix2pix}"
P2C_WEIGHTS="${P2C_WEIGHTS:-photo2cartoon}"
SIZE="${SIZE:-256}"
STEPS="${STEPS:-5000}"
read -r -a extra <<< "${PIX2PIX_OPTS:-}"

prep() {  # exit status 1 = some photos had no face (reported, skipped); anything else stops the script
    local rc=0
    gan prep "$1" "$2" > /dev/null || rc=$?
    [ "$rc" -le 1 ] || exit "$rc"
}

prep "$photos" "$WORK/faces"
gan translate photo2cartoon --weights "$P2C_WEIGHTS" "$WORK/faces" "$WORK/cartoons" --no-prep > /dev/null
gan train pix2pix --data "$WORK/faces" --data-b "$WORK/cartoons" --size "$SIZE" --steps "$STEPS" \
    --out "$WORK/run" --quiet "${extra[@]}" > /dev/null
prep "$new" "$WORK/new-faces"
gan translate pix2pix --weights "$WORK/run" "$WORK/new-faces" "$WORK/out"
