"""The subject rule shared by the training re-cut, evaluation, calibration and the LFW script:
the face nearest the image centre whose centre lies within a quarter of the image side of it
(the subject of a chip or a portrait); no such face = a miss."""
from __future__ import annotations

from typing import Optional, Sequence


def subject_index(boxes: Sequence[tuple[float, float, float, float]], width: int, height: int) -> Optional[int]:
    """Index of the subject among boxes (x, y, w, h), or None."""
    best, best_d = None, None
    cx, cy = width / 2.0, height / 2.0
    for i, (x, y, w, h) in enumerate(boxes):
        dx, dy = x + w / 2.0 - cx, y + h / 2.0 - cy
        if abs(dx) > width / 4.0 or abs(dy) > height / 4.0:
            continue
        d = dx * dx + dy * dy
        if best_d is None or d < best_d:
            best, best_d = i, d
    return best
