"""Face chip extraction and network input layout, driven by the model metadata.

Two rules, chosen per face:
* landmark alignment (``metadata.align`` present and the detector gave five landmarks): one
  similarity warp straight to the network input size (align.py) — what the model was trained on;
* the box rule (Haar, ``detector=None``, models without ``align``): the detector box becomes a
  square chip (detector calibration). Training chips were resized to ``crop.resize_to`` and
  centre-cropped to ``input.size``; here the part of the chip that rule keeps is cut from the
  original image (zero padding where it leaves the image, so the face stays centred and at its
  training scale) and resized ONCE, straight to the input size, with the crop's interpolation.
  One resampling instead of two: ~2x cheaper, and a chip of exactly ``resize_to`` pixels gives
  exactly the old result (the kept region is then copied, not resampled).

Every face is written as BGR uint8 into a slot of a preallocated array (``write_face(out=)``);
``FaceBatch`` holds ``batch_size`` such slots and converts them to the network's NCHW float32
layout (colour order, normalisation) in one vectorised step per batch.
"""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from .align import align_landmarks
from .metadata import ModelMetadata

_INTERP = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}

Crop = tuple[float, float, float, float]   # (x, y, side, side) of the square chip in the source image


def square_region(cx: float, cy: float, side: float) -> tuple[int, int, int]:
    """Integer (x0, y0, side) of a square chip; at least 1 pixel."""
    s = max(1, int(round(side)))
    return int(round(cx - s / 2.0)), int(round(cy - s / 2.0)), s


def cut_rect(bgr: np.ndarray, x0: int, y0: int, w: int, h: int) -> np.ndarray:
    """The w x h rectangle at (x0, y0): a view when it lies inside the image, else a copy
    zero-padded where it extends past the image."""
    ih, iw = bgr.shape[:2]
    ix0, iy0 = max(0, x0), max(0, y0)
    ix1, iy1 = min(iw, x0 + w), min(ih, y0 + h)
    if ix0 >= ix1 or iy0 >= iy1:
        return np.zeros((h, w, 3), dtype=np.uint8)
    inside = bgr[iy0:iy1, ix0:ix1]
    if (ix0, iy0, ix1, iy1) == (x0, y0, x0 + w, y0 + h):
        return inside
    return cv2.copyMakeBorder(inside, iy0 - y0, y0 + h - iy1, ix0 - x0, x0 + w - ix1,
                              cv2.BORDER_CONSTANT, value=(0, 0, 0))


def cut_square(bgr: np.ndarray, x0: int, y0: int, s: int) -> np.ndarray:
    """The s x s square at (x0, y0), zero-padded where it extends past the image."""
    return cut_rect(bgr, x0, y0, s, s)


def kept_region(x0: float, y0: float, chip_w: float, chip_h: float, meta: ModelMetadata
                ) -> tuple[int, int, int, int]:
    """Integer (x, y, w, h) of the part of a chip (at x0, y0, chip_w x chip_h) that "resize to
    ``crop.resize_to``, centre-crop ``input.size``" keeps, in the chip's source pixels."""
    r = meta.crop.resize_to
    h, w = meta.input.size
    oy, ox = (r - h) // 2, (r - w) // 2
    fx, fy = chip_w / r, chip_h / r
    rx0, ry0 = int(round(x0 + ox * fx)), int(round(y0 + oy * fy))
    rx1, ry1 = int(round(x0 + (ox + w) * fx)), int(round(y0 + (oy + h) * fy))
    return rx0, ry0, max(1, rx1 - rx0), max(1, ry1 - ry0)


def resize_into(region: np.ndarray, meta: ModelMetadata, out: Optional[np.ndarray] = None) -> np.ndarray:
    """One resize of ``region`` (BGR uint8) to the input size, written into ``out`` when given."""
    h, w = meta.input.size
    if region.shape[:2] == (h, w):
        if out is None:
            return np.ascontiguousarray(region)
        out[...] = region
        return out
    # the crop's interpolation (area) when shrinking, as the training chips were made; linear
    # when enlarging (area == nearest there)
    interp = _INTERP[meta.crop.interpolation] if region.shape[1] > w else cv2.INTER_LINEAR
    if out is None:
        return cv2.resize(region, (w, h), interpolation=interp)
    got = cv2.resize(region, (w, h), dst=out, interpolation=interp)
    if got is not out:   # OpenCV reallocated (out not usable as is): keep the caller's buffer
        out[...] = got
    return out


def box_face(bgr: np.ndarray, x0: int, y0: int, s: int, meta: ModelMetadata,
             out: Optional[np.ndarray] = None) -> np.ndarray:
    """The box rule for the square chip (x0, y0, s): BGR uint8 network input, in ``out``."""
    rx, ry, rw, rh = kept_region(x0, y0, s, s, meta)
    return resize_into(cut_rect(bgr, rx, ry, rw, rh), meta, out)


def chip_to_input(chip_bgr: np.ndarray, meta: ModelMetadata) -> np.ndarray:
    """A whole BGR face chip (training-style, e.g. UTKFace 200x200) -> HxWx3 uint8 network input
    in the model's colour order (the box rule with the chip as the box)."""
    ch, cw = chip_bgr.shape[:2]
    rx, ry, rw, rh = kept_region(0, 0, cw, ch, meta)
    out = resize_into(cut_rect(chip_bgr, rx, ry, rw, rh), meta)
    return out[:, :, ::-1] if meta.input.colour_order == "RGB" else out


def write_face(bgr: np.ndarray, detection, calibration, meta: ModelMetadata, out: np.ndarray
               ) -> tuple[Crop, bool]:
    """One detected face written as BGR uint8 network input into ``out`` (input size, 3 ch);
    returns (the square region of ``bgr`` it covers as (x, y, side, side), aligned?).

    Landmark alignment when the model's metadata asks for it and the detection has usable
    landmarks; the box rule otherwise (and when the landmarks are degenerate)."""
    if meta.align is not None and detection.landmarks:
        got = align_landmarks(bgr, detection.landmarks, meta.align, meta.input.size, out=out)
        if got is not None:
            face, crop = got
            if face is not out:
                out[...] = face
            cx, cy = crop.centre
            return (cx - crop.side / 2.0, cy - crop.side / 2.0, crop.side, crop.side), True
    cx, cy, side = calibration.chip(detection)
    x0, y0, s = square_region(cx, cy, side)
    box_face(bgr, x0, y0, s, meta, out)
    return (float(x0), float(y0), float(s), float(s)), False


def face_input(bgr: np.ndarray, detection, calibration, meta: ModelMetadata
               ) -> tuple[np.ndarray, Crop, bool]:
    """One detected face -> (HxWx3 uint8 network input in the model's colour order, the square
    region of the original image it covers as (x, y, side, side), aligned?)."""
    h, w = meta.input.size
    out = np.empty((h, w, 3), dtype=np.uint8)
    crop, aligned = write_face(bgr, detection, calibration, meta, out)
    return (out[:, :, ::-1] if meta.input.colour_order == "RGB" else out), crop, aligned


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
        """One HWC uint8 face in the model's colour order -> CHW float32, written in place."""
        self.array[self.count] = face_input.transpose(2, 0, 1)
        self._normalise(self.array[self.count:self.count + 1])
        self.count += 1

    def _normalise(self, x: np.ndarray) -> None:
        if not self.meta.input.normalize_in_graph:
            x -= np.asarray(self.meta.input.mean, dtype=np.float32).reshape(1, 3, 1, 1)
            x /= np.asarray(self.meta.input.std, dtype=np.float32).reshape(1, 3, 1, 1)

    @property
    def filled(self) -> np.ndarray:
        return self.array[: self.count]


class FaceBatch:
    """``capacity`` BGR uint8 face slots (NHWC staging) and the network batch they become.

    Faces are written (or copied) into ``slots``; ``network_input()`` converts the filled slots
    to NCHW float32 in the model's colour order, normalised when the graph does not do it, in
    one vectorised cast per batch rather than one per face."""

    def __init__(self, meta: ModelMetadata, capacity: int):
        h, w = meta.input.size
        self.meta = meta
        self.slots = np.empty((capacity, h, w, 3), dtype=np.uint8)
        self._net = InputBatch(meta, capacity)
        self.count = 0

    @property
    def capacity(self) -> int:
        return len(self.slots)

    @property
    def full(self) -> bool:
        return self.count == len(self.slots)

    def clear(self) -> None:
        self.count = 0

    def add(self, bgr_face: np.ndarray) -> None:
        self.slots[self.count] = bgr_face
        self.count += 1

    def network_input(self) -> np.ndarray:
        n = self.count
        src = self.slots[:n].transpose(0, 3, 1, 2)          # N,3,H,W view, BGR
        if self.meta.input.colour_order == "RGB":
            src = src[:, ::-1]
        dst = self._net.array[:n]
        np.copyto(dst, src)                                  # uint8 -> float32, exact
        self._net._normalise(dst)
        return dst
