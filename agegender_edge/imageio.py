"""Turn whatever the user passes (path, bytes, numpy array) into a BGR uint8 HxWx3 image.

Decompression bombs are refused from the header, before the pixels are decoded. Grayscale, RGBA
and 16-bit images are converted; everything else that cannot be used raises InvalidImageError
naming the source and the problem.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import cv2
import numpy as np

from .errors import ImageTooLargeError, InvalidImageError

ImageInput = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray]
DEFAULT_MAX_PIXELS = 50_000_000   # ~ 8660 x 5770; a 48 MP phone photo still fits
COLOUR_ORDERS = ("BGR", "RGB")


@dataclass(frozen=True)
class LoadedImage:
    bgr: np.ndarray      # uint8 HxWx3, contiguous
    source: str


def describe_source(item: object, index: int) -> str:
    if isinstance(item, (str, os.PathLike)):
        return os.fspath(item)
    if isinstance(item, np.ndarray):
        return f"<array {index}>"
    if isinstance(item, (bytes, bytearray, memoryview)):
        return f"<bytes {index}>"
    return f"<{type(item).__name__} {index}>"


def image_size_from_header(data: bytes) -> Optional[tuple[int, int]]:
    """(width, height) from a PNG/JPEG/BMP/GIF/WebP header, None when the format is not known.
    Used to refuse oversized images before decoding them."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return w, h
    if data[:2] == b"BM" and len(data) >= 26:
        w, h = struct.unpack("<ii", data[18:26])
        return abs(w), abs(h)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8X":
            w = 1 + int.from_bytes(data[24:27], "little")
            h = 1 + int.from_bytes(data[27:30], "little")
            return w, h
        if chunk == b"VP8 ":
            w, h = struct.unpack("<HH", data[26:30])
            return w & 0x3FFF, h & 0x3FFF
        if chunk == b"VP8L" and len(data) >= 25:
            b = data[21:25]
            w = 1 + (((b[1] & 0x3F) << 8) | b[0])
            h = 1 + (((b[3] & 0xF) << 10) | (b[2] << 2) | ((b[1] & 0xC0) >> 6))
            return w, h
    if data[:2] == b"\xff\xd8":
        pos = 2
        n = len(data)
        while pos + 4 <= n:
            if data[pos] != 0xFF:
                pos += 1
                continue
            marker = data[pos + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                pos += 1 if marker == 0xFF else 2
                continue
            seg_len = struct.unpack(">H", data[pos + 2:pos + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                if pos + 9 <= n:
                    h, w = struct.unpack(">HH", data[pos + 5:pos + 9])
                    return w, h
                return None
            pos += 2 + seg_len
    return None


def _check_pixels(w: int, h: int, max_pixels: int, source: str) -> None:
    if w * h > max_pixels:
        raise ImageTooLargeError(
            f"{source}: image is {w}x{h} = {w * h:,} pixels, over the limit of {max_pixels:,} "
            f"(max_pixels); refused before decoding"
        )


def normalise_array(arr: np.ndarray, colour_order: str, source: str) -> np.ndarray:
    """uint8/uint16 gray, 3- or 4-channel array in ``colour_order`` -> BGR uint8 HxWx3."""
    if not isinstance(arr, np.ndarray):
        raise InvalidImageError(f"{source}: expected a numpy array, got {type(arr).__name__}")
    if arr.dtype == np.uint16:
        arr = (arr >> 8).astype(np.uint8)
    elif arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    elif arr.dtype != np.uint8:
        raise InvalidImageError(
            f"{source}: array dtype {arr.dtype} is not supported; pass uint8 (0-255) or uint16 pixels"
        )
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        arr = cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR)
    elif arr.ndim == 3 and arr.shape[2] in (3, 4):
        if arr.shape[2] == 4:
            arr = arr[:, :, :3]  # drop alpha: faces are read from the colour channels
        if colour_order == "RGB":
            arr = arr[:, :, ::-1]
    else:
        raise InvalidImageError(f"{source}: array shape {arr.shape} is not an image (want HxW, HxWx3 or HxWx4)")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InvalidImageError(f"{source}: image is empty ({arr.shape[1]}x{arr.shape[0]})")
    return np.ascontiguousarray(arr)


def decode_bytes(data: bytes, source: str, max_pixels: int) -> np.ndarray:
    if len(data) == 0:
        raise InvalidImageError(f"{source}: file is empty (0 bytes)")
    size = image_size_from_header(data)
    if size is not None:
        _check_pixels(size[0], size[1], max_pixels, source)
    buf = np.frombuffer(data, dtype=np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None or img.size == 0:
        raise InvalidImageError(f"{source}: not a decodable image (corrupt, truncated or unsupported format)")
    if size is None:
        _check_pixels(img.shape[1], img.shape[0], max_pixels, source)
    # decoded images are BGR(A) in OpenCV; 16-bit and gray are normalised the same way as arrays
    return normalise_array(img, "BGR", source)


def load_image(item: ImageInput, colour_order: Optional[str], max_pixels: int, index: int = 0) -> LoadedImage:
    source = describe_source(item, index)
    if isinstance(item, (str, os.PathLike)):
        path = Path(item)
        if not path.exists():
            raise InvalidImageError(f"{source}: no such file")
        if not path.is_file():
            raise InvalidImageError(f"{source}: not a regular file")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidImageError(f"{source}: cannot read file ({exc.strerror})") from exc
        return LoadedImage(decode_bytes(data, source, max_pixels), source)
    if isinstance(item, (bytes, bytearray, memoryview)):
        return LoadedImage(decode_bytes(bytes(item), source, max_pixels), source)
    if isinstance(item, np.ndarray):
        if colour_order is None:
            raise InvalidImageError(
                f"{source}: numpy arrays need an explicit colour_order='BGR' (OpenCV) or 'RGB' (PIL, skimage)"
            )
        if item.ndim >= 2:
            _check_pixels(item.shape[1], item.shape[0], max_pixels, source)
        return LoadedImage(normalise_array(item, colour_order, source), source)
    raise InvalidImageError(f"{source}: unsupported input type {type(item).__name__} (want a path, bytes or numpy array)")
