"""No detection: the whole image is the face chip (already-cropped faces, UTKFace style)."""
from __future__ import annotations

import numpy as np

from .base import ChipCalibration, Detection, FaceDetector


class WholeImage(FaceDetector):
    name = "none"
    calibration = ChipCalibration(scale=1.0)

    def __init__(self, **kwargs):
        super().__init__(max_side=0, max_faces=1)   # the whole image scores 1.0: min_score is moot

    def _detect_one(self, bgr: np.ndarray) -> list[Detection]:
        h, w = bgr.shape[:2]
        return [Detection(0.0, 0.0, float(w), float(h), 1.0)]

    def detect(self, bgr: np.ndarray) -> list[Detection]:
        return self._detect_one(bgr)
