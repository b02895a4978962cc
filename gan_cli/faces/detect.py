"""Face detection with MediaPipe's BlazeFace models: boxes, scores and six keypoints per face.

Two bundled models run on every photo and their detections are merged: the short-range model
is best on close-ups, the full-range one finds small faces in group or distant shots (a face
1/20 of the photo's width) that the short-range model misses. `detector_model` replaces both.

Coordinates are in source pixels with OpenCV's convention: (0, 0) is the centre of the top-left
pixel, the same convention `cv2.warpAffine` uses, so keypoints and affine transforms compose.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gan_cli.faces import models
from gan_cli.faces.quiet import native_quiet

# BlazeFace keypoint order. "right" is the subject's right: the eye on the left of the picture.
KEYPOINT_NAMES = (
    "right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion", "left_ear_tragion"
)  # fmt: skip
RIGHT_EYE, LEFT_EYE, NOSE_TIP, MOUTH = 0, 1, 2, 3
Box = tuple[float, float, float, float]


@dataclass
class Face:
    """One detected face. `box` is (x, y, width, height); `keypoints` is (6, 2), see KEYPOINT_NAMES."""

    score: float
    box: Box
    keypoints: np.ndarray
    model: str

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]

    @property
    def eyes(self) -> np.ndarray:
        return self.keypoints[[RIGHT_EYE, LEFT_EYE]]

    @property
    def mouth(self) -> np.ndarray:
        return self.keypoints[MOUTH]


def keypoint_dict(keypoints: np.ndarray) -> dict[str, list[float]]:
    """{name: [x, y]} for JSON, rounded to 1/100 pixel."""
    pairs = zip(KEYPOINT_NAMES, keypoints, strict=False)  # a custom model may have fewer
    return {name: [round(float(x), 2), round(float(y), 2)] for name, (x, y) in pairs}


def _overlaps(a: Box, b: Box, iou: float, contained: float) -> bool:
    """Same face: IoU above `iou`, or most of the smaller box inside the larger (a face cut by a tile)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    small = min(a[2] * a[3], b[2] * b[3])
    union = a[2] * a[3] + b[2] * b[3] - inter
    return (union > 0 and inter / union > iou) or (small > 0 and inter / small > contained)


def merge_faces(faces: list[Face], iou: float = 0.3, contained: float = 0.6) -> list[Face]:
    """Drop duplicates of the same face, keeping the best-scored one; largest face first."""
    kept: list[Face] = []
    for f in sorted(faces, key=lambda f: -f.score):
        if not any(_overlaps(f.box, k.box, iou, contained) for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: -f.area)


def tiles(width: int, height: int, min_side: int = 768, frac: float = 0.6) -> list[Box]:
    """Overlapping 2x2 tiles (x, y, w, h), each `frac` of the photo, if it is `min_side` or larger.

    A face up to (2 * frac - 1) of the photo's size lies whole in at least one tile, where it
    looks 1/frac times bigger to the detector.
    """
    if max(width, height) < min_side:
        return []
    tw, th = round(width * frac), round(height * frac)
    return [(x, y, tw, th) for y in (0, height - th) for x in (0, width - tw)]


class FaceFinder:
    """Finds faces in RGB arrays. Create once and reuse: model loading costs far more than a detection."""

    def __init__(self, min_score: float = 0.5, detector_model: str | Path | None = None) -> None:
        if detector_model is not None:
            specs = [("custom", Path(detector_model))]
        else:
            specs = [("short_range", models.SHORT_RANGE), ("full_range", models.FULL_RANGE)]
        self._tasks: dict[str, Any] = {}
        # closes the tasks at exit if the caller forgot (MediaPipe's own __del__ then fails noisily)
        self._finalizer = weakref.finalize(self, models.close_all, self._tasks)
        try:
            for name, path in specs:
                self._tasks[name] = models.create_face_detector(path, min_score)
        except BaseException:
            self.close()
            raise
        # The model that sees aligned squares best (refines the alignment), and the one that must
        # see the face there too for a candidate to count as a face (None: no second opinion).
        self.refine_model = "custom" if detector_model is not None else "short_range"
        self.confirm_model = None if detector_model is not None else "full_range"

    @property
    def tile_model(self) -> str:
        return "custom" if "custom" in self._tasks else "full_range"

    def detect(self, rgb: np.ndarray, model_names: tuple[str, ...] | None = None) -> list[Face]:
        """Faces in an (H, W, 3) uint8 RGB image with the given models (all by default), largest first."""
        faces: list[Face] = []
        for name in model_names or tuple(self._tasks):
            faces += self._run(name, rgb, 0, 0)
        return merge_faces(faces)

    def find(self, rgb: np.ndarray) -> list[Face]:
        """All faces in a photo, largest first: every model on the whole photo, plus tiles of large photos."""
        faces: list[Face] = []
        for name in self._tasks:
            faces += self._run(name, rgb, 0, 0)
        for x, y, w, h in tiles(rgb.shape[1], rgb.shape[0]):
            faces += self._run(self.tile_model, rgb[y : y + h, x : x + w], x, y)
        return merge_faces(faces)

    def _run(self, name: str, rgb: np.ndarray, dx: int, dy: int) -> list[Face]:
        h, w = rgb.shape[:2]
        image = models.mp_image(rgb)
        with native_quiet():
            result = self._tasks[name].detect(image)
        faces = []
        for d in result.detections:
            if len(d.keypoints) < 4:
                continue
            kp = np.array([[k.x * w - 0.5 + dx, k.y * h - 0.5 + dy] for k in d.keypoints], dtype=np.float64)
            bb = d.bounding_box
            box = (bb.origin_x - 0.5 + dx, bb.origin_y - 0.5 + dy, float(bb.width), float(bb.height))
            score = float(d.categories[0].score) if d.categories else 0.0
            faces.append(Face(score, box, kp, name))
        return faces

    def close(self) -> None:
        self._finalizer()
