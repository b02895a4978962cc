"""Face alignment: a similarity transform from BlazeFace keypoints to a fixed template, and the warp.

The template (fractions of the output size, margin 1.0) frames the face photo2cartoon-style,
with room for hair above and the chin and neck below:

    eyes    y = 0.44, 0.20 apart, centred (right eye x = 0.40, left eye x = 0.60)
    mouth   y = 0.66, centred

`margin` zooms out around the image centre: every template offset from (0.5, 0.5) is divided by
it (margin 1.5 shows more hair and shoulders, 0.8 crops tighter).

The transform rotates so the eye line is horizontal, puts the midpoint between the eyes on the
template's, and scales so that both the eye distance and the eye-to-mouth distance fit the
template (the smaller of the two scales wins, so a face turned sideways, whose eyes look close
together, is not blown up). Affines are 2x3 matrices mapping source pixels to output pixels with
OpenCV's pixel-centre convention, as `cv2.warpAffine` takes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Template:
    """Where the eyes and mouth go, as fractions of the output size (before `margin`)."""

    eye_distance: float = 0.20
    eye_y: float = 0.44
    mouth_y: float = 0.66
    margin: float = 1.0

    def _frac(self, x: float, y: float) -> tuple[float, float]:
        return 0.5 + (x - 0.5) / self.margin, 0.5 + (y - 0.5) / self.margin

    def points(self, size: int) -> dict[str, tuple[float, float]]:
        """Template positions in output pixels (pixel-centre convention)."""
        half = self.eye_distance / 2
        frac = {
            "right_eye": self._frac(0.5 - half, self.eye_y),
            "left_eye": self._frac(0.5 + half, self.eye_y),
            "mouth_center": self._frac(0.5, self.mouth_y),
        }
        return {k: (x * size - 0.5, y * size - 0.5) for k, (x, y) in frac.items()}


def similarity_to_template(eyes: np.ndarray, mouth: np.ndarray, size: int, template: Template) -> np.ndarray:
    """The 2x3 affine (rotation, uniform scale, translation) taking a face to the template.

    `eyes` is (2, 2): the subject's right eye (left in the picture) then the left eye.
    """
    e0, e1 = np.asarray(eyes, dtype=np.float64)
    centre = (e0 + e1) / 2
    eye_vec = e1 - e0
    mouth_vec = np.asarray(mouth, dtype=np.float64) - centre
    d_eye, d_mouth = float(np.hypot(*eye_vec)), float(np.hypot(*mouth_vec))
    if d_eye < 0.35 * d_mouth:  # profile view: the eye line is unreliable, use the face's vertical axis
        eye_vec = np.array([-mouth_vec[1], mouth_vec[0]])
    angle = math.atan2(eye_vec[1], eye_vec[0])
    want_eye = template.eye_distance * size / template.margin
    want_mouth = (template.mouth_y - template.eye_y) * size / template.margin
    scales = [
        want_eye / d_eye if d_eye > 1e-6 else math.inf,
        want_mouth / d_mouth if d_mouth > 1e-6 else math.inf,
    ]
    scale = min(scales)
    if not math.isfinite(scale):
        raise ValueError("degenerate keypoints: eyes and mouth coincide")
    c, s = scale * math.cos(angle), scale * math.sin(angle)
    rot = np.array([[c, s], [-s, c]])
    pts = template.points(size)
    target = (np.array(pts["right_eye"]) + np.array(pts["left_eye"])) / 2
    return np.hstack([rot, (target - rot @ centre)[:, None]])


def transform_points(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to (N, 2) points."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return pts @ affine[:, :2].T + affine[:, 2]


def invert(affine: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(np.asarray(affine, dtype=np.float64))


def affine_scale(affine: np.ndarray) -> float:
    return math.sqrt(abs(float(np.linalg.det(affine[:, :2]))))


def compose(affine: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """affine ∘ inner, both 2x3."""
    a = np.vstack([affine, [0, 0, 1]])
    b = np.vstack([inner, [0, 0, 1]])
    return (a @ b)[:2]


def warp(rgb: np.ndarray, affine: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Warp a photo into the aligned square. Returns (rgb uint8, coverage float32 in [0, 1]).

    `coverage` is 1 where the output comes from the photo and 0 where the crop leaves it (soft
    at the photo's edge). Only the region that the square needs is read, and a face shrunk by
    more than 1.25x is first area-averaged to its final scale so the result does not alias.
    """
    h, w = rgb.shape[:2]
    corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5], [size - 0.5, size - 0.5]])
    src = transform_points(invert(affine), corners)
    scale = affine_scale(affine)
    pad = 2 + 2 / min(scale, 1.0)
    x0, y0 = (max(0, int(math.floor(v - pad))) for v in src.min(axis=0))
    x1, y1 = (int(math.ceil(v + pad)) + 1 for v in src.max(axis=0))
    x1, y1 = min(w, x1), min(h, y1)
    if x1 <= x0 or y1 <= y0:  # the square misses the photo entirely
        return np.zeros((size, size, 3), np.uint8), np.zeros((size, size), np.float32)
    roi = rgb[y0:y1, x0:x1]
    local = compose(affine, np.array([[1.0, 0, x0], [0, 1.0, y0]]))
    if scale < 0.8:
        rw, rh = max(1, round(roi.shape[1] * scale)), max(1, round(roi.shape[0] * scale))
        fx, fy = rw / roi.shape[1], rh / roi.shape[0]
        roi = cv2.resize(roi, (rw, rh), interpolation=cv2.INTER_AREA)
        # resized (xr, yr) -> roi (x, y): x = (xr + 0.5) / fx - 0.5
        local = compose(local, np.array([[1 / fx, 0, 0.5 / fx - 0.5], [0, 1 / fy, 0.5 / fy - 0.5]]))
    flags = cv2.INTER_CUBIC if scale > 1.25 else cv2.INTER_LINEAR
    out = cv2.warpAffine(roi, local, (size, size), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    ones = np.ones(roi.shape[:2], np.float32)
    coverage = cv2.warpAffine(
        ones, local, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    return out, coverage
