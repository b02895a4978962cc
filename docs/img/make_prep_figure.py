"""Draw docs/img/prep-before-after.jpg: three photos (top) and what `gan prep` makes of them (bottom).

.venv/bin/python docs/img/make_prep_figure.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from gan_cli.faces.prep import FacePrep  # noqa: E402

FACES = (ROOT / ".." / "shared" / "data" / "faces").resolve()
TILE, GAP, CAPTION = 220, 8, 18


def tilted(img: np.ndarray, degrees: float, pad: int) -> np.ndarray:
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    m[:, 2] += (pad, pad)
    return cv2.warpAffine(
        img, m, (w + 2 * pad, h + 2 * pad), flags=cv2.INTER_CUBIC, borderValue=(96, 110, 128)
    )


def small_in_large(img: np.ndarray) -> np.ndarray:
    canvas = np.empty((1100, 1800, 3), np.uint8)
    canvas[:] = np.linspace(40, 200, 1800, dtype=np.float32)[None, :, None].astype(np.uint8)
    canvas[:, :, 2] = 150
    canvas[520:1032, 1220:1732] = img[:, ::-1]  # the face is ~95 px wide: 1/19 of the canvas
    return canvas


def fit(img: Image.Image) -> Image.Image:
    img = img.copy()
    img.thumbnail((TILE, TILE), Image.Resampling.LANCZOS)
    tile = Image.new("RGB", (TILE, TILE), (238, 238, 238))
    tile.paste(img, ((TILE - img.width) // 2, (TILE - img.height) // 2))
    return tile


def checkerboard(rgba: Image.Image) -> Image.Image:
    yy, xx = np.mgrid[: rgba.height, : rgba.width]
    board = np.where(((yy // 12 + xx // 12) % 2)[..., None] == 0, 205, 245).repeat(3, axis=2).astype(np.uint8)
    out = Image.fromarray(board, "RGB")
    out.paste(rgba, mask=rgba.getchannel("A"))
    return out


def main() -> None:
    astronaut = np.asarray(Image.open(FACES / "astronaut.png").convert("RGB"))
    grace = np.asarray(Image.open(FACES / "grace_hopper.jpg").convert("RGB"))
    cases = [  # (photo, caption of the photo, --bg, caption of the result)
        (astronaut, "close-up", "white", "--bg white"),
        (tilted(grace, 25, 60), "tilted 25 degrees", "transparent", "--bg transparent"),
        (small_in_large(astronaut), "face 1/20 of the width", "keep", "--bg keep"),
    ]
    width = len(cases) * TILE + (len(cases) + 1) * GAP
    sheet = Image.new("RGB", (width, 2 * (TILE + CAPTION) + 3 * GAP), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (photo, what, bg, how) in enumerate(cases):
        with FacePrep(size=TILE, bg=bg) as prep:
            out = prep.process(photo)[0].image
        x = GAP + i * (TILE + GAP)
        sheet.paste(fit(Image.fromarray(photo)), (x, GAP))
        draw.text((x, GAP + TILE + 3), what, fill=(60, 60, 60))
        y = 2 * GAP + TILE + CAPTION
        sheet.paste(checkerboard(out) if out.mode == "RGBA" else out, (x, y))
        draw.text((x, y + TILE + 3), f"gan prep {how}", fill=(60, 60, 60))
    target = Path(__file__).with_name("prep-before-after.jpg")
    sheet.save(target, quality=88, optimize=True)
    print(target)


if __name__ == "__main__":
    main()
