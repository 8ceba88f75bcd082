"""Face chip extraction and network input layout, driven by the model metadata.

Training chips: UTKFace 200x200 chip -> resize to ``crop.resize_to`` (INTER_AREA) -> centre crop
``input.size``. At run time a detector box becomes a square chip (detector calibration), the chip
is cut from the original image (zero padding where it leaves the image, so the face stays centred
and at its training scale), then the same resize and centre crop. Crops are written straight into
one preallocated NCHW float32 batch buffer (no per-face stacking).
"""
from __future__ import annotations

import cv2
import numpy as np

from .metadata import ModelMetadata

_INTERP = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}


def square_region(cx: float, cy: float, side: float) -> tuple[int, int, int]:
    """Integer (x0, y0, side) of a square chip; at least 1 pixel."""
    s = max(1, int(round(side)))
    return int(round(cx - s / 2.0)), int(round(cy - s / 2.0)), s


def cut_square(bgr: np.ndarray, x0: int, y0: int, s: int) -> np.ndarray:
    """The s x s square at (x0, y0), zero-padded where it extends past the image."""
    h, w = bgr.shape[:2]
    ix0, iy0 = max(0, x0), max(0, y0)
    ix1, iy1 = min(w, x0 + s), min(h, y0 + s)
    if ix0 >= ix1 or iy0 >= iy1:
        return np.zeros((s, s, 3), dtype=np.uint8)
    inside = bgr[iy0:iy1, ix0:ix1]
    if (ix0, iy0, ix1, iy1) == (x0, y0, x0 + s, y0 + s):
        return inside
    return cv2.copyMakeBorder(inside, iy0 - y0, y0 + s - iy1, ix0 - x0, x0 + s - ix1,
                              cv2.BORDER_CONSTANT, value=(0, 0, 0))


def chip_to_input(chip_bgr: np.ndarray, meta: ModelMetadata) -> np.ndarray:
    """Square BGR chip -> HxWx3 uint8 network input in the model's colour order."""
    r = meta.crop.resize_to
    interp = _INTERP[meta.crop.interpolation] if chip_bgr.shape[0] > r else cv2.INTER_LINEAR
    resized = cv2.resize(chip_bgr, (r, r), interpolation=interp) if chip_bgr.shape[:2] != (r, r) else chip_bgr
    h, w = meta.input.size
    y0, x0 = (r - h) // 2, (r - w) // 2
    out = resized[y0:y0 + h, x0:x0 + w]
    if meta.input.colour_order == "RGB":
        out = out[:, :, ::-1]
    return out


class InputBatch:
    """A reusable NCHW float32 buffer of ``capacity`` faces at the model's input size."""

    def __init__(self, meta: ModelMetadata, capacity: int):
        h, w = meta.input.size
        self.meta = meta
        self.array = np.empty((capacity, 3, h, w), dtype=np.float32)
        self.count = 0

    def clear(self) -> None:
        self.count = 0

    def add(self, face_input: np.ndarray) -> None:
        # HWC uint8 -> CHW float32, written in place (no intermediate stacking)
        self.array[self.count] = face_input.transpose(2, 0, 1)
        if not self.meta.input.normalize_in_graph:
            m = np.asarray(self.meta.input.mean, dtype=np.float32).reshape(3, 1, 1)
            s = np.asarray(self.meta.input.std, dtype=np.float32).reshape(3, 1, 1)
            self.array[self.count] -= m
            self.array[self.count] /= s
        self.count += 1

    @property
    def filled(self) -> np.ndarray:
        return self.array[: self.count]
