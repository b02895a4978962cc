"""FacePrep: photo in, aligned and segmented face squares out (the engine behind `gan prep`).

    with FacePrep(size=256, bg="white") as prep:
        for result in prep.process(pil_image):   # [] when no face is found
            result.image.save(...); json.dump(result.sidecar(), ...)

The MediaPipe detectors and the segmenter are created once per FacePrep; reuse it across
photos (`gan translate photo2cartoon` can). Steps for each face:
  1. detect (faces.detect): both BlazeFace models, plus tiles on large photos;
  2. align (faces.align) and refine (faces.refine): the face is detected again in its aligned
     square and the transform corrected until the eyes sit level on the template. A candidate
     that is not found again there and scored under 0.8 is dropped as a false detection;
  3. segment and composite (faces.segment, faces.composite) for bg "white" and "transparent".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from gan_cli.errors import BadInput
from gan_cli.faces import refine
from gan_cli.faces.align import Template, compose, invert, similarity_to_template, warp
from gan_cli.faces.composite import WHITE, composite, cutout, rgba
from gan_cli.faces.detect import LEFT_EYE, MOUTH, RIGHT_EYE, Face, FaceFinder, keypoint_dict

BACKGROUNDS = ("white", "keep", "transparent")
KEEP_UNVERIFIED_SCORE = 0.8


@dataclass
class PrepResult:
    """One aligned face. `affine` maps source pixels to output pixels (2x3, OpenCV convention)."""

    image: Image.Image
    face: Face
    keypoints: np.ndarray
    affine: np.ndarray
    index: int
    info: dict[str, Any] = field(default_factory=dict)

    def sidecar(self) -> dict[str, Any]:
        """What the JSON sidecar records: enough to paste the result back onto the photo."""
        return {
            "face_index": self.index,
            "score": round(self.face.score, 4),
            "detector": self.face.model,
            "box": [round(v, 2) for v in self.face.box],
            "keypoints": keypoint_dict(self.keypoints),
            "affine": [[round(float(v), 6) for v in row] for row in self.affine],
            **self.info,
        }


class FacePrep:
    """Detect, align, segment. Create once (loads the models), call `process` per photo, then `close`."""

    def __init__(
        self,
        size: int = 256,
        bg: str = "white",
        all_faces: bool = False,
        margin: float = 1.0,
        min_score: float = 0.5,
        detector_model: str | Path | None = None,
    ) -> None:
        if bg not in BACKGROUNDS:
            raise BadInput(f"unknown background {bg!r} (use one of: {', '.join(BACKGROUNDS)})")
        if size < 32:
            raise BadInput(f"size {size} is too small (at least 32)")
        if not 0.5 <= margin <= 3.0:
            raise BadInput(f"margin {margin} is out of range (0.5 to 3)")
        self.size, self.bg, self.all_faces = size, bg, all_faces
        self.template = Template(margin=margin)
        self.finder = FaceFinder(min_score=min_score, detector_model=detector_model)
        self.segmenter: Any = None
        if bg != "keep":
            from gan_cli.faces.segment import PersonSegmenter

            try:
                self.segmenter = PersonSegmenter()
            except BaseException:
                self.finder.close()
                raise

    def __enter__(self) -> FacePrep:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.finder.close()
        if self.segmenter is not None:
            self.segmenter.close()

    def process(self, image: Image.Image | np.ndarray) -> list[PrepResult]:
        """Aligned faces of one photo: the largest, or all of them (largest first). [] if none."""
        if isinstance(image, Image.Image):
            from gan_cli.io.images import to_mode  # converts any mode; transparent areas become white

            image = np.asarray(to_mode(image, "RGB"))
        rgb = np.ascontiguousarray(image)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError("expected an (H, W, 3) uint8 RGB array")
        segment = self.segmenter.confidence if self.segmenter is not None else None
        results: list[PrepResult] = []
        for face in self.finder.find(rgb):
            alignment = refine.refine(self.finder, rgb, face, self.template, segment)
            if not alignment.verified and face.score < KEEP_UNVERIFIED_SCORE:
                continue
            if any(_same_face(alignment.keypoints, r.keypoints) for r in results):
                continue  # two detections that refined onto one face
            results.append(self.render(rgb, face, alignment, len(results)))
            if not self.all_faces:
                break
        return results

    def render(self, rgb: np.ndarray, face: Face, alignment: refine.Alignment, index: int) -> PrepResult:
        """The output square for one aligned face."""
        kp, size = alignment.keypoints, self.size
        affine = similarity_to_template(kp[RIGHT_EYE : LEFT_EYE + 1], kp[MOUTH], size, self.template)
        crop, coverage = warp(rgb, affine, size)
        padded = composite(crop, coverage, WHITE)
        if self.bg == "keep" or alignment.mask is None or alignment.mask_affine is None:
            out = Image.fromarray(padded, "RGB")
        else:
            rel = compose(affine, invert(alignment.mask_affine))
            conf = cv2.warpAffine(alignment.mask, rel, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)
            fg, alpha = cutout(conf, padded)
            alpha *= coverage
            if self.bg == "white":
                out = Image.fromarray(composite(fg, alpha, WHITE), "RGB")
            else:
                out = Image.fromarray(rgba(fg, alpha), "RGBA")
        info = {
            "size": size,
            "bg": self.bg,
            "margin": self.template.margin,
            "template": {k: [round(x, 2), round(y, 2)] for k, (x, y) in self.template.points(size).items()},
            "source_size": [int(rgb.shape[1]), int(rgb.shape[0])],
            "refined": alignment.verified,
        }
        return PrepResult(out, face, kp, affine, index, info)


def _same_face(a: np.ndarray, b: np.ndarray) -> bool:
    """Eye centres closer than half an eye distance."""
    ca, cb = a[RIGHT_EYE : LEFT_EYE + 1].mean(axis=0), b[RIGHT_EYE : LEFT_EYE + 1].mean(axis=0)
    return float(np.hypot(*(ca - cb))) < 0.5 * float(np.hypot(*(a[LEFT_EYE] - a[RIGHT_EYE])))
