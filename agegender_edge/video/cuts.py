"""Scene-cut detector: a cheap frame difference on downscaled colour histograms.

At a hard cut (an edit, a camera switch) every face's position is unrelated to the frame before,
so the tracker must not trust motion there: only appearance can carry a track across (tracker.py).
Per frame: the frame shrunk to 64 x 48 (INTER_AREA, ~0.1 ms for 640 x 480), converted to HSV, a
16 x 8 hue-saturation histogram plus a 16-bin value histogram, each normalised to sum 1; the
Bhattacharyya distance of each to the previous frame's, and the larger of the two. A cut is a
distance over ``threshold`` (0.35; consecutive frames of a moving scene stay under ~0.1, two
unrelated scenes are usually over 0.5). The value histogram catches cuts between scenes of the
same hues (indoor to indoor); the hue-saturation one cuts whose brightness is alike.

Cuts between two shots of the same place (a static camera, the same background) are not cuts
here — nothing but the faces changed — and need not be: the tracker's appearance gate keeps two
people apart there.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

SIZE = (64, 48)
DEFAULT_CUT_THRESHOLD = 0.35


class CutDetector:
    """``detect(bgr) -> bool``: True when this frame starts a new shot (never on the first)."""

    def __init__(self, threshold: float = DEFAULT_CUT_THRESHOLD):
        if not 0.0 < threshold <= 1.0:
            raise ValueError("cut threshold must be in (0, 1]")
        self.threshold = threshold
        self._prev: Optional[tuple[np.ndarray, np.ndarray]] = None
        self.last_distance = 0.0

    def signature(self, bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import cv2
        if bgr.ndim == 2:
            bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
        small = cv2.resize(bgr, SIZE, interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
        hs = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256])
        v = cv2.calcHist([hsv], [2], None, [16], [0, 256])
        return hs / max(float(hs.sum()), 1.0), v / max(float(v.sum()), 1.0)

    def distance(self, a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
        import cv2
        return max(float(cv2.compareHist(x, y, cv2.HISTCMP_BHATTACHARYYA)) for x, y in zip(a, b))

    def detect(self, bgr: np.ndarray) -> bool:
        sig = self.signature(bgr)
        prev, self._prev = self._prev, sig
        if prev is None:
            self.last_distance = 0.0
            return False
        self.last_distance = self.distance(prev, sig)
        return self.last_distance > self.threshold

    def reset(self) -> None:
        self._prev = None
