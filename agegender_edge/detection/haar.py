"""OpenCV Haar cascade: the zero-download fallback, shipped inside opencv-python(-headless) < 5."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from ..errors import BackendUnavailableError, ModelError
from .base import ChipCalibration, Detection, FaceDetector

DEFAULT_CASCADE = "haarcascade_frontalface_default.xml"


def bundled_cascade_path(name: str = DEFAULT_CASCADE) -> Path:
    data = getattr(cv2, "data", None)
    if data is None or not hasattr(cv2, "CascadeClassifier"):
        raise BackendUnavailableError(
            "this OpenCV build has no Haar cascades (OpenCV 5 wheels dropped them); "
            "install 'opencv-python-headless<5' or give a YuNet model (detector='yunet:PATH')"
        )
    return Path(data.haarcascades) / name


class HaarDetector(FaceDetector):
    name = "haar"
    # measured on 300 UTKFace val chips (benchmarks/calibrate_detectors.py): the default
    # cascade's box is ~0.84 of the chip side and sits ~6% of its height above the chip centre
    calibration = ChipCalibration(scale=1.198, dx=0.006, dy=0.065)

    def __init__(self, cascade_path: Optional[str] = None, scale_factor: float = 1.1,
                 min_neighbors: int = 5, min_size: int = 24, **kwargs):
        super().__init__(**kwargs)
        path = Path(cascade_path) if cascade_path else bundled_cascade_path()
        if not path.is_file():
            raise ModelError(f"{path}: Haar cascade file not found")
        self.path = path
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        self._local = threading.local()  # CascadeClassifier is not safe to share across threads
        self._cascade()  # fail early on a bad file

    def _cascade(self) -> "cv2.CascadeClassifier":
        c = getattr(self._local, "cascade", None)
        if c is None:
            c = cv2.CascadeClassifier(str(self.path))
            if c.empty():
                raise ModelError(f"{self.path}: not a valid Haar cascade XML")
            self._local.cascade = c
        return c

    def _detect_one(self, bgr: np.ndarray) -> list[Detection]:
        # no equalizeHist: measured on the fixture canvases it loses faces (6/6 -> 5/6, 4/6)
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        boxes, _levels, weights = self._cascade().detectMultiScale3(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size), outputRejectLevels=True)
        out = []
        for (x, y, w, h), wt in zip(boxes, np.asarray(weights).reshape(-1)):
            # the cascade's level weight is unbounded; squash it into (0, 1) as a score
            out.append(Detection(float(x), float(y), float(w), float(h), float(1.0 / (1.0 + np.exp(-wt)))))
        return out

    def describe(self) -> str:
        return f"haar ({self.path.name})"
