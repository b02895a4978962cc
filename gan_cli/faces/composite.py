"""Soft person masks without halos, compositing onto a background, and pasting results back.

A segmentation mask is soft and bleeds a few pixels past the person, so blending the photo with
it leaves a rim of the old background (a halo). `cutout` avoids that with a small matting step in
the band between sure person and sure background: a pixel whose colour is that of the nearby
background rather than the nearby person loses its alpha, and colours in the band are pulled
towards the person's.
"""

from __future__ import annotations

import cv2
import numpy as np

WHITE = (255, 255, 255)


def smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _spread(img: np.ndarray, where: np.ndarray, radius: int) -> np.ndarray:
    """Give pixels near `where` the mean colour of the pixels in `where` around them (box filters)."""
    out = img.copy()
    filled = where > 0
    weight = where.astype(np.float32)
    weighted = img * weight[..., None]
    for r in (radius, 3 * radius):
        k = (2 * r + 1, 2 * r + 1)
        num = cv2.blur(weighted, k)
        den = cv2.blur(weight, k)
        fill = (den > 1e-4) & ~filled
        out[fill] = num[fill] / den[fill][:, None]
        filled |= fill
    return out


def cutout(confidence: np.ndarray, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(foreground colours float32 (H, W, 3), alpha float32 (H, W) in [0, 1]) from a person mask.

    Sure person = the mask above 0.5 shrunk by a band of ~1/48 of the size; sure background =
    the mask below 0.1. Between them, the mask's soft edge is lowered where the pixel's colour is
    closer to the nearby background colour B than to the nearby person colour F (where the two
    differ enough to tell), and colours are pulled towards F so the old background cannot tint it.
    """
    size = max(confidence.shape)
    band = max(2, round(size / 48))
    conf = confidence.astype(np.float32)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    sure_fg = cv2.erode((conf > 0.5).astype(np.uint8), kernel)
    sure_bg = cv2.erode((conf < 0.1).astype(np.uint8), np.ones((3, 3), np.uint8))
    img = rgb.astype(np.float32)
    fg = _spread(img, sure_fg, band)
    bg = _spread(img, sure_bg, band)
    diff = fg - bg
    dist2 = np.sum(diff * diff, axis=2)
    by_colour = np.clip(np.sum((img - bg) * diff, axis=2) / np.maximum(dist2, 1e-6), 0.0, 1.0)
    trust = smoothstep(30.0**2, 80.0**2, dist2)  # how distinct F and B are (0-255 units)
    soft = smoothstep(0.3, 0.8, conf)
    # colour may only lower the mask's alpha: it removes bleed, it never adds background objects
    alpha = np.where(sure_fg > 0, 1.0, np.where(sure_bg > 0, 0.0, soft * (1 - trust * (1 - by_colour))))
    alpha = cv2.GaussianBlur(alpha.astype(np.float32), (0, 0), 0.6)
    keep = smoothstep(0.7, 0.98, alpha)[..., None]
    colour = keep * img + (1.0 - keep) * fg
    return colour, alpha.astype(np.float32)


def composite(fg: np.ndarray, alpha: np.ndarray, background: tuple[int, int, int] = WHITE) -> np.ndarray:
    """alpha * fg + (1 - alpha) * background, as uint8 RGB."""
    if fg.dtype == np.uint8 and float(alpha.min()) >= 1.0:
        return fg
    bg = np.asarray(background, np.float32)
    out = bg + alpha[..., None].astype(np.float32) * (fg.astype(np.float32) - bg)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def rgba(fg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 with straight (not premultiplied) alpha."""
    a = np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.dstack([np.clip(fg + 0.5, 0, 255).astype(np.uint8), a])


def paste_back(photo: np.ndarray, aligned: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Put an aligned (H, W, 3|4) result back onto the original photo (uint8 RGB) it came from.

    `affine` is the sidecar's 2x3 source-to-output transform. With an alpha channel, only the
    person is pasted; without one, the whole square is.
    """
    h, w = photo.shape[:2]
    m = np.asarray(affine, np.float64)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    src = cv2.warpAffine(aligned[..., :3], m, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    if aligned.shape[2] == 4:
        mask = aligned[..., 3].astype(np.float32) / 255.0
    else:
        mask = np.ones(aligned.shape[:2], np.float32)
    a = cv2.warpAffine(mask, m, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)[..., None]
    out = a * src.astype(np.float32) + (1.0 - a) * photo.astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
