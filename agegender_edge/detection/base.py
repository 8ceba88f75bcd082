"""Detector interface and the box -> face-chip mapping.

A detector returns tight face boxes whose size and centre differ by detector. The model was
trained on UTKFace aligned&cropped chips, so each detector carries a ``ChipCalibration``: the
chip side as a multiple of the box size and the chip-centre offset, measured by running the
detector on UTKFace val chips (benchmarks/calibrate_detectors.py). That makes the crop the
model sees match its training crops whichever detector found the face.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class Detection:
    x: float
    y: float
    width: float
    height: float
    score: float
    landmarks: Optional[tuple[tuple[float, float], ...]] = None


@dataclass(frozen=True)
class ChipCalibration:
    """chip side = scale * sqrt(w * h); chip centre = box centre + (dx * w, dy * h)."""

    scale: float
    dx: float = 0.0
    dy: float = 0.0

    def chip(self, d: Detection) -> tuple[float, float, float]:
        """(centre x, centre y, side) of the square chip for a detection."""
        side = self.scale * float(np.sqrt(max(d.width, 1e-6) * max(d.height, 1e-6)))
        cx = d.x + d.width * (0.5 + self.dx)
        cy = d.y + d.height * (0.5 + self.dy)
        return cx, cy, side


def check_min_score(value: Optional[float]) -> Optional[float]:
    """A detection-score threshold: None (the detector's default) or a number in [0, 1]."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"min_detection_score must be a number between 0 and 1, not {value!r}") from None
    if not 0.0 <= v <= 1.0:   # also refuses NaN
        raise ValueError(f"min_detection_score must be between 0 and 1, not {value!r}")
    return v


class FaceDetector(abc.ABC):
    """Finds faces in BGR uint8 images. Subclasses set ``name`` and ``calibration``.

    ``min_score``: detections scoring below it are dropped (None: the class's
    ``default_min_score``; scores are the detector's own, so each detector has its own default)."""

    name: str = "detector"
    calibration: ChipCalibration = ChipCalibration(1.0)
    default_min_score: float = 0.0

    def __init__(self, max_side: int = 960, max_faces: int = 64, min_score: Optional[float] = None):
        # Detection runs on a copy whose longer side is at most ``max_side`` (boxes are mapped
        # back): the detector's cost grows with pixels, the crop is taken from the original.
        self.max_side = max_side
        self.max_faces = max_faces
        min_score = check_min_score(min_score)
        self.min_score = self.default_min_score if min_score is None else min_score

    @abc.abstractmethod
    def _detect_one(self, bgr: np.ndarray) -> list[Detection]:
        """Detect on an image that is already downscaled."""

    def detect(self, bgr: np.ndarray) -> list[Detection]:
        h, w = bgr.shape[:2]
        scale = min(1.0, self.max_side / max(h, w)) if self.max_side else 1.0
        small = bgr
        if scale < 1.0:
            import cv2
            small = cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        found = self._detect_one(small)
        if scale < 1.0:
            inv = 1.0 / scale
            found = [Detection(d.x * inv, d.y * inv, d.width * inv, d.height * inv, d.score,
                               tuple((px * inv, py * inv) for px, py in d.landmarks) if d.landmarks else None)
                     for d in found]
        found = [d for d in found if d.score >= self.min_score]
        found.sort(key=lambda d: -d.score)
        return found[: self.max_faces]

    def detect_many(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        return [self.detect(im) for im in images]

    def describe(self) -> str:
        return self.name

    def close(self) -> None:  # detectors holding native resources override this
        pass
