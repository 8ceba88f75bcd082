"""Draw tracked faces (box, track id, smoothed gender / age) onto frames and encode them into a
video file (``agegender-edge video --annotate OUT.mp4``)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from ..annotate import draw_labelled_box, gender_colour
from ..errors import OutputPathError
from .results import FrameResult

FOURCC_BY_SUFFIX = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


def draw_tracked(bgr: np.ndarray, result: FrameResult) -> np.ndarray:
    out = bgr.copy()
    scale = max(0.4, min(out.shape[:2]) / 700.0)
    thick = max(1, int(round(2 * scale)))
    for f in result.faces:
        t = f.track
        label = f"#{f.track_id} {(t.gender[:1] or '?').upper()} {t.gender_probability:.2f} {t.age:.0f}y ({t.age_group})"
        # boxes the tracker carried between detector runs are drawn thinner
        draw_labelled_box(out, f.face.box, label, gender_colour(t.gender), thick, 0.45 * scale,
                          box_thick=thick if f.detected else max(1, thick // 2))
    return out


class AnnotatedVideoWriter:
    """Frames with their results drawn, encoded at ``fps`` (mp4v for .mp4/.mov, MJPG for .avi/.mkv).
    The writer opens on the first frame (the size comes from it). OutputPathError when the file
    cannot be written."""

    def __init__(self, path: Path, fps: Optional[float]):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in FOURCC_BY_SUFFIX:
            raise OutputPathError(f"{self.path}: annotated video must end in one of "
                                  f"{', '.join(sorted(FOURCC_BY_SUFFIX))}")
        if self.path.is_dir():
            raise OutputPathError(f"{self.path}: is a folder")
        self.fourcc = FOURCC_BY_SUFFIX[suffix]
        self.fps = fps if fps and fps > 0 else 25.0
        self.frames = 0
        self._writer = None
        self._size: Optional[tuple[int, int]] = None

    def write(self, bgr: Optional[np.ndarray], result: FrameResult) -> None:
        if bgr is None:          # an undecodable frame: repeat nothing, keep the timing of the rest
            if self._size is None:
                return
            bgr = np.zeros((self._size[1], self._size[0], 3), np.uint8)
        h, w = bgr.shape[:2]
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.fourcc), self.fps, (w, h))
            if not self._writer.isOpened():
                raise OutputPathError(f"{self.path}: OpenCV cannot write a {self.fourcc} video there")
            self._size = (w, h)
        if (w, h) != self._size:
            bgr = cv2.resize(bgr, self._size)
        self._writer.write(draw_tracked(bgr, result))
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> "AnnotatedVideoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
