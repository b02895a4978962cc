"""The MediaPipe models bundled with gan-cli, and creating MediaPipe Tasks objects from them quietly.

Bundled (Apache-2.0, see gan_cli/assets/mediapipe/NOTICE):
  face_detection_short_range.tflite       BlazeFace, faces within ~2 m (close-ups, selfies)
  face_detection_full_range_sparse.tflite BlazeFace, faces up to ~5 m (groups, distant shots)
  selfie_segmentation.tflite              person / background confidence mask

mediapipe is imported lazily (it takes ~0.5 s), so `gan --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gan_cli.errors import BadInput
from gan_cli.faces.quiet import native_quiet

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "mediapipe"
SHORT_RANGE = ASSETS / "face_detection_short_range.tflite"
FULL_RANGE = ASSETS / "face_detection_full_range_sparse.tflite"
SELFIE_SEGMENTATION = ASSETS / "selfie_segmentation.tflite"


def _check_model_file(path: Path) -> str:
    if not path.is_file():
        raise BadInput(f"{path}: no such model file")
    return str(path)


def create_face_detector(model: Path, min_score: float) -> Any:
    """A MediaPipe Tasks FaceDetector in image mode. BadInput if the model cannot be loaded."""
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.FaceDetectorOptions(
        base_options=BaseOptions(model_asset_path=_check_model_file(model)),
        min_detection_confidence=min_score,
        min_suppression_threshold=0.3,
    )
    try:
        with native_quiet():
            return vision.FaceDetector.create_from_options(options)
    except (ValueError, RuntimeError) as e:
        raise BadInput(f"{model}: not a usable face detection model ({e})") from None


def create_segmenter(model: Path = SELFIE_SEGMENTATION) -> Any:
    """A MediaPipe Tasks ImageSegmenter returning confidence masks. BadInput if unusable."""
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.ImageSegmenterOptions(
        base_options=BaseOptions(model_asset_path=_check_model_file(model)),
        output_confidence_masks=True,
        output_category_mask=False,
    )
    try:
        with native_quiet():
            return vision.ImageSegmenter.create_from_options(options)
    except (ValueError, RuntimeError) as e:
        raise BadInput(f"{model}: not a usable segmentation model ({e})") from None


def mp_image(rgb: np.ndarray) -> Any:
    """Wrap an (H, W, 3) uint8 RGB array as a mediapipe.Image."""
    import mediapipe as mp

    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb, dtype=np.uint8))


def close_all(tasks: dict[str, Any]) -> None:
    """Close MediaPipe tasks (quietly) and empty the dict; safe to call twice."""
    with native_quiet():
        for task in tasks.values():
            task.close()
    tasks.clear()
