"""Refining an alignment by detecting the face again in its own aligned square.

BlazeFace's keypoints in a whole photo are rough (a face may be rotated, small, off-centre), and
even in a well-framed square each detection jitters by about a degree. So the transform is
refined in a closed loop, in the square the output will have:
  1. one detection in the square cut with the first estimate verifies the face (a candidate
     that both bundled models do not find again there is a false detection: a helmet, a
     pattern) and corrects the bulk of the error;
  2. the person is segmented once in that square, and the view the output will show (person on
     white) is measured a few times, each measurement averaging detections over small jitters
     of the view (scale, shift, rotation), and corrected with damping (the detector over-reacts
     to rotation, undamped steps oscillate), until eyes are level and on the template.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np

from gan_cli.faces.align import Template, compose, invert, similarity_to_template, transform_points, warp
from gan_cli.faces.composite import WHITE, composite, cutout
from gan_cli.faces.detect import LEFT_EYE, MOUTH, RIGHT_EYE, Face, FaceFinder

# (scale, dx, dy, degrees) about the view's centre; the identity first.
JITTERS = ((1.0, 0.0, 0.0, 0.0), (0.97, 0.5, -0.5, 0.8), (1.03, -0.5, 0.5, -0.8), (1.0, 0.5, 0.5, 0.0))
SIZE = 256  # the square refined in (the detector sees 128 px anyway)
DAMPING = 0.6
ROUNDS = 3
GOOD_ANGLE_DEG, GOOD_EYE_FRAC = 0.4, 0.005
NEAR_FRAC = 0.12  # a re-detected face's eyes must be this close (fraction of size) to the template's
MARGINS = (0.8, 1.25)  # refined at the output's framing, within what BlazeFace sees well


@dataclass
class Alignment:
    """Refined keypoints (source pixels) and, for segmented output, the person mask in the square
    that `mask_affine` maps the source to."""

    keypoints: np.ndarray
    verified: bool
    mask: np.ndarray | None = None
    mask_affine: np.ndarray | None = None


def eye_error(keypoints: np.ndarray, template: Template, size: int) -> tuple[float, float]:
    """(eye-line angle in degrees, largest eye distance from the template as a fraction of size)."""
    pts = template.points(size)
    e0, e1 = keypoints[RIGHT_EYE], keypoints[LEFT_EYE]
    angle = math.degrees(math.atan2(e1[1] - e0[1], e1[0] - e0[0]))
    off = max(math.dist(e0, pts["right_eye"]), math.dist(e1, pts["left_eye"]))
    return angle, off / size


def measure(
    finder: FaceFinder, view: np.ndarray, model: str, expect: np.ndarray, jitters: tuple = JITTERS
) -> np.ndarray | None:
    """Keypoints of the face whose eye centre is nearest `expect`, averaged over jittered copies."""
    h, w = view.shape[:2]
    centre = ((w - 1) / 2, (h - 1) / 2)
    found = []
    for scale, dx, dy, degrees in jitters:
        jit = cv2.getRotationMatrix2D(centre, degrees, scale)
        jit[:, 2] += (dx, dy)
        identity = (scale, dx, dy, degrees) == (1.0, 0.0, 0.0, 0.0)
        moved = view if identity else cv2.warpAffine(view, jit, (w, h), borderMode=cv2.BORDER_REPLICATE)
        best, best_d = None, NEAR_FRAC * max(h, w)
        for f in finder.detect(moved, (model,)):
            kp = transform_points(invert(jit), f.keypoints)
            d = float(np.hypot(*(kp[[RIGHT_EYE, LEFT_EYE]].mean(axis=0) - expect)))
            if d < best_d:
                best, best_d = kp, d
        if best is not None:
            found.append(best)
    return np.mean(found, axis=0) if found else None


def refine(
    finder: FaceFinder,
    rgb: np.ndarray,
    face: Face,
    template: Template,
    segment: Callable[[np.ndarray], np.ndarray] | None,
) -> Alignment:
    """Refine `face`'s keypoints in its aligned square; `segment` gives a person mask (None: no mask).

    The mask is made in a square framed like the output (`template`), the refinement in one
    framed like it too, but with the margin kept where the detector works well.
    """
    tight = replace(template, margin=min(max(template.margin, MARGINS[0]), MARGINS[1]))
    pts = tight.points(SIZE)
    expect = (np.array(pts["right_eye"]) + np.array(pts["left_eye"])) / 2
    model = finder.refine_model

    def square(kp: np.ndarray, frame: Template = tight) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        affine = similarity_to_template(kp[RIGHT_EYE : LEFT_EYE + 1], kp[MOUTH], SIZE, frame)
        crop, coverage = warp(rgb, affine, SIZE)
        return affine, crop, coverage

    keypoints = face.keypoints
    affine, crop, coverage = square(keypoints)
    view = composite(crop, coverage, WHITE)
    first = measure(finder, view, model, expect, JITTERS[:1])
    verified = first is not None
    if verified and finder.confirm_model is not None:
        verified = measure(finder, view, finder.confirm_model, expect, JITTERS[:1]) is not None
    if verified:
        keypoints = transform_points(invert(affine), first)
        affine, crop, coverage = square(keypoints)
    mask, mask_affine = None, affine
    if segment is not None:
        if tight == template:
            mask = segment(composite(crop, coverage, WHITE)) * coverage
        else:
            mask_affine, mcrop, mcov = square(keypoints, template)
            mask = segment(composite(mcrop, mcov, WHITE)) * mcov
    if not verified:
        return Alignment(keypoints, False, mask, mask_affine)

    for _ in range(ROUNDS):
        if mask is None:
            view = composite(crop, coverage, WHITE)
        else:
            rel = compose(affine, invert(mask_affine))
            m = cv2.warpAffine(mask, rel, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderValue=0)
            fg, alpha = cutout(m, composite(crop, coverage, WHITE))
            view = composite(fg, alpha * coverage, WHITE)
        seen = measure(finder, view, model, expect)
        if seen is None:
            break
        angle, off = eye_error(seen, tight, SIZE)
        if abs(angle) < GOOD_ANGLE_DEG and off < GOOD_EYE_FRAC:
            break
        keypoints = keypoints + DAMPING * (transform_points(invert(affine), seen) - keypoints)
        affine, crop, coverage = square(keypoints)
    return Alignment(keypoints, True, mask, mask_affine)
