"""Person segmentation with the MediaPipe Tasks ImageSegmenter and the bundled selfie model."""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

import numpy as np

from gan_cli.faces import models
from gan_cli.faces.quiet import native_quiet


class PersonSegmenter:
    """Returns a float32 person-confidence mask in [0, 1] at the input's resolution. Create once."""

    def __init__(self, model: Path = models.SELFIE_SEGMENTATION) -> None:
        self._tasks: dict[str, Any] = {"segmenter": models.create_segmenter(model)}
        self._finalizer = weakref.finalize(self, models.close_all, self._tasks)

    def confidence(self, rgb: np.ndarray) -> np.ndarray:
        image = models.mp_image(rgb)
        with native_quiet():
            result = self._tasks["segmenter"].segment(image)
            masks = result.confidence_masks or []
            # selfie segmentation has one mask (person); multi-class models: the last is "person".
            mask = np.array(masks[-1].numpy_view(), dtype=np.float32) if masks else None
        if mask is None:
            return np.zeros(rgb.shape[:2], np.float32)
        if mask.ndim == 3:
            mask = mask[..., 0]
        return np.clip(mask, 0.0, 1.0)

    def close(self) -> None:
        self._finalizer()
