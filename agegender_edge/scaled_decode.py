"""Reduced-scale JPEG decoding for detection, full-resolution pixels only where a face needs them.

A 12 MP phone photo is detected on a copy of at most ``detect_max_side`` (960) pixels, so
decoding all its pixels first is wasted work: libjpeg decodes at 1/2, 1/4 or 1/8 scale in the
DCT domain (``cv2.IMREAD_REDUCED_COLOR_*``) several times faster. ``load_for_detection``
decodes a JPEG at the largest such reduction that still leaves its longer side >= the
detector's ``max_side`` (so detection sees at least the pixels it would have used), and
``ScaledImage.full()`` decodes the full resolution on demand, once per image.

The rule for where a face is cut (``ScaledImage.source_for``): from the reduced pixels when the
region the network sees spans at least the network input size there (it is shrunk to the
input size anyway, so the reduced decode holds the information needed), else from the full
resolution. Boxes and crops are always reported in full-resolution upright coordinates.

Safety checks are those of imageio.load_image: anything that is not a plain, complete JPEG
within ``max_pixels`` goes through load_image unchanged (and fails there with its message). The
EXIF orientation is applied to the reduced decode the same way imageio applies it to full ones
(decoded with IMREAD_IGNORE_ORIENTATION, then imageio.apply_orientation).
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Optional, Union

import cv2
import numpy as np

from . import imageio
from .imageio import ImageInput, LoadedImage

_REDUCED = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}
# Smaller files are decoded as usual without looking at their header twice: a JPEG twice the
# default detection size (1920 px) is ~60 KB even at 1:100 compression, while chips, LFW
# photos and 640x480 frames (10-80 KB) would only pay for a second header parse.
MIN_REDUCED_BYTES = 32 * 1024


def reduction_for(width: int, height: int, max_side: int) -> int:
    """Largest JPEG reduction (1, 2, 4 or 8) whose longer side stays >= ``max_side``."""
    if max_side <= 0:
        return 1
    long_side = max(width, height)
    for f in (8, 4, 2):
        if -(-long_side // f) >= max_side:
            return f
    return 1


@dataclass
class ScaledImage:
    """A JPEG decoded at 1/``factor`` scale (upright, BGR), and its full resolution on demand."""

    small: np.ndarray
    factor: int
    full_size: tuple[int, int]          # upright (width, height) of the full resolution
    source: str
    _data: bytes = field(repr=False)
    _max_pixels: int = field(repr=False)
    _header: imageio.EncodedHeader = field(repr=False)   # parsed once, reused by full()
    _full: Optional[np.ndarray] = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def scale(self) -> tuple[float, float]:
        """Full-resolution pixels per reduced pixel, (x, y)."""
        h, w = self.small.shape[:2]
        return self.full_size[0] / w, self.full_size[1] / h

    def full(self) -> np.ndarray:
        with self._lock:
            if self._full is None:
                self._full = imageio.decode_bytes(self._data, self.source, self._max_pixels, self._header)
            return self._full

    def needs_full(self, region_side_full: float, input_side: int) -> bool:
        """True when a face whose network region spans ``region_side_full`` full-resolution
        pixels has fewer than ``input_side`` pixels across in the reduced image."""
        return region_side_full / max(self.scale) < input_side


def load_for_detection(item: ImageInput, colour_order: Optional[str], max_pixels: int, index: int,
                       max_bytes: Optional[int], max_side: int) -> Union[LoadedImage, ScaledImage]:
    """A ScaledImage for a JPEG far larger than ``max_side``; otherwise imageio.load_image."""
    if max_side <= 0 or not isinstance(item, (str, os.PathLike, bytes, bytearray, memoryview)):
        return imageio.load_image(item, colour_order, max_pixels, index, max_bytes=max_bytes)
    source = imageio.describe_source(item, index)
    if isinstance(item, (str, os.PathLike)):
        data = imageio.read_image_file(item, source, max_bytes)
    else:
        data = item.tobytes() if isinstance(item, memoryview) else bytes(item)
    if max_bytes is not None and len(data) > max_bytes:
        return imageio.load_image(data, colour_order, max_pixels, index, max_bytes=max_bytes)
    header = imageio.check_header(data, source, max_pixels)     # refusals raise here, with the reason
    full = lambda: LoadedImage(imageio.decode_bytes(data, source, max_pixels, header), source)  # noqa: E731
    if len(data) < MIN_REDUCED_BYTES or header.fmt != "jpeg":
        return full()
    factor = reduction_for(header.width, header.height, max_side)
    if factor == 1:
        return full()
    try:
        small = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), _REDUCED[factor] | cv2.IMREAD_IGNORE_ORIENTATION)
    except cv2.error:
        small = None
    if small is None or small.size == 0 or small.ndim != 3:
        return full()
    orientation = header.orientation
    small = imageio.apply_orientation(small, orientation)
    w, h = header.width, header.height
    full_size = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    return ScaledImage(small=np.ascontiguousarray(small), factor=factor, full_size=full_size, source=source,
                       _data=data, _max_pixels=max_pixels, _header=header)
