"""Turn whatever the user passes (path, bytes, numpy array) into a BGR uint8 HxWx3 image.

Safety rules (docs/ERRORS.md):

* Only known image formats are decoded (JPEG, PNG, BMP, WebP, GIF, TIFF, PNM, JPEG 2000, AVIF,
  Sun raster); their width and height are read from the header and checked
  against ``max_pixels`` *before* OpenCV decodes anything (decompression bombs). A file whose
  format or size cannot be recognised from its header is refused, never handed to a decoder blindly.
* Encoded inputs over ``max_bytes`` are refused before they are read.
* A JPEG without its end-of-image marker after the scan data (truncated download) is refused, on
  every OpenCV version (older libjpeg builds silently grey-fill the missing rows).
* Float-pixel formats (PFM, Radiance HDR, OpenEXR) are refused before decoding.
* Grayscale, gray+alpha, RGBA and 16-bit images are converted; float / signed pixels, empty and
  non-image shapes raise InvalidImageError naming the source and the problem.
"""
from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass
from typing import Iterable, Optional, Union

import cv2
import numpy as np

from .errors import BatchTooLargeError, ImageTooLargeError, InvalidImageError

ImageInput = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray]
DEFAULT_MAX_PIXELS = 50_000_000        # ~ 8660 x 5770; a 48 MP phone photo still fits
DEFAULT_MAX_BATCH_BYTES = 1 << 30      # 1 GiB of input (encoded files/bytes + array buffers) per predict() call
COLOUR_ORDERS = ("BGR", "RGB")


@dataclass(frozen=True)
class LoadedImage:
    bgr: np.ndarray      # uint8 HxWx3, contiguous
    source: str


def describe_source(item: object, index: int) -> str:
    if isinstance(item, (str, os.PathLike)):
        try:
            name = os.fspath(item)
        except TypeError:  # an os.PathLike whose __fspath__ returns something odd
            return f"<path {index}>"
        return str(name) if name else f"<empty path {index}>"
    if isinstance(item, np.ndarray):
        return f"<array {index}>"
    if isinstance(item, (bytes, bytearray, memoryview)):
        return f"<bytes {index}>"
    return f"<{type(item).__name__} {index}>"


# -- header parsing -------------------------------------------------------------------------------

def sniff_format(data: bytes) -> Optional[str]:
    """The image format from the file signature, None when it is not one this SDK decodes."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:2] == b"BM":
        return "bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if len(data) >= 3 and data[0:1] == b"P" and data[1:2] in b"123456" and data[2:3].isspace():
        return "pnm"
    if data[:2] in (b"PF", b"Pf") and data[2:3].isspace():
        return "pfm"
    if data[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n":
        return "jp2"
    if data[:4] == b"\xff\x4f\xff\x51":
        return "j2k"
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis", b"mif1", b"msf1"):
        return "avif"
    if data[:4] == b"\x59\xa6\x6a\x95":
        return "sunras"
    if data[:10] == b"#?RADIANCE" or data[:6] == b"#?RGBE":
        return "hdr"
    if data[:4] == b"\x76\x2f\x31\x01":
        return "exr"
    return None


def _jpeg_size(data: bytes) -> Optional[tuple[int, int]]:
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            pos += 1
            continue
        marker = data[pos + 1]
        if marker == 0xFF:           # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01, 0x00) or 0xD0 <= marker <= 0xD7:   # standalone markers
            pos += 2
            continue
        if marker in (0xD9, 0xDA):   # end of image / start of scan before any frame header
            return None
        seg_len = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            if pos + 9 <= n:
                h, w = struct.unpack(">HH", data[pos + 5:pos + 9])
                return w, h
            return None
        if seg_len < 2:
            return None
        pos += 2 + seg_len
    return None


def jpeg_is_complete(data: bytes) -> bool:
    """True when an end-of-image marker follows the first start-of-scan. Entropy-coded data
    cannot contain FF D9 (0xFF is stuffed as FF 00), and an EXIF thumbnail's EOI comes before the
    main image's SOS, so this tells a complete JPEG from one cut short."""
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            pos += 1
            continue
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xD8, 0x01, 0x00) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker == 0xD9:
            return False
        if marker == 0xDA:
            return data.find(b"\xff\xd9", pos + 2) != -1
        seg_len = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if seg_len < 2:
            return False
        pos += 2 + seg_len
    return False


def _tiff_size(data: bytes) -> Optional[tuple[int, int]]:
    if len(data) < 8:
        return None
    end = "<" if data[:2] == b"II" else ">"
    ifd = struct.unpack(end + "I", data[4:8])[0]
    if ifd < 8 or ifd + 2 > len(data):
        return None
    count = struct.unpack(end + "H", data[ifd:ifd + 2])[0]
    w = h = None
    for i in range(count):
        entry = ifd + 2 + 12 * i
        if entry + 12 > len(data):
            return None
        tag, typ = struct.unpack(end + "HH", data[entry:entry + 4])
        if tag not in (256, 257):
            continue
        if typ == 3:     # SHORT
            value = struct.unpack(end + "H", data[entry + 8:entry + 10])[0]
        elif typ == 4:   # LONG
            value = struct.unpack(end + "I", data[entry + 8:entry + 12])[0]
        else:
            return None
        if tag == 256:
            w = value
        else:
            h = value
    return (w, h) if w is not None and h is not None else None


def _pnm_size(data: bytes) -> Optional[tuple[int, int]]:
    """Width and height of a PNM (P1-P6) header; '#' comments allowed."""
    tokens: list[int] = []
    pos, n = 2, min(len(data), 4096)
    while len(tokens) < 2 and pos < n:
        c = data[pos:pos + 1]
        if c.isspace():
            pos += 1
        elif c == b"#":
            nl = data.find(b"\n", pos, n)
            if nl == -1:
                return None
            pos = nl + 1
        elif c.isdigit():
            start = pos
            while pos < n and data[pos:pos + 1].isdigit():
                pos += 1
            if pos - start > 10:
                return None
            tokens.append(int(data[start:pos]))
        else:
            return None
    return (tokens[0], tokens[1]) if len(tokens) == 2 else None


def _jp2_size(data: bytes) -> Optional[tuple[int, int]]:
    i = data.find(b"ihdr", 0, 4096)            # JP2 header box: height, width (u32 BE)
    if i == -1 or i + 12 > len(data):
        return None
    h, w = struct.unpack(">II", data[i + 4:i + 12])
    return w, h


def _j2k_size(data: bytes) -> Optional[tuple[int, int]]:
    if len(data) < 24:                           # SIZ: Xsiz, Ysiz, XOsiz, YOsiz (u32 BE)
        return None
    xs, ys, xo, yo = struct.unpack(">IIII", data[8:24])
    return max(0, xs - xo), max(0, ys - yo)


def _avif_size(data: bytes) -> Optional[tuple[int, int]]:
    """Largest 'ispe' (image spatial extents) property in an AVIF / HEIF file."""
    best: Optional[tuple[int, int]] = None
    containers = {b"meta": 4, b"iprp": 0, b"ipco": 0}

    def walk(start: int, end: int, depth: int) -> None:
        nonlocal best
        pos = start
        while pos + 8 <= end and depth < 6:
            size, kind = struct.unpack(">I4s", data[pos:pos + 8])
            header = 8
            if size == 1 and pos + 16 <= end:
                size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
                header = 16
            elif size == 0:
                size = end - pos
            if size < header or pos + size > end:
                return
            if kind == b"ispe" and size >= 20:
                w, h = struct.unpack(">II", data[pos + 12:pos + 20])
                if best is None or w * h > best[0] * best[1]:
                    best = (w, h)
            elif kind in containers:
                walk(pos + header + containers[kind], pos + size, depth + 1)
            pos += size

    walk(0, len(data), 0)
    return best


def image_size_from_header(data: bytes) -> Optional[tuple[int, int]]:
    """(width, height) from the image header, None when the format or its size is not known.
    Used to refuse oversized images before decoding them."""
    fmt = sniff_format(data)
    try:
        if fmt == "png":
            if len(data) < 24 or data[12:16] != b"IHDR":
                return None
            w, h = struct.unpack(">II", data[16:24])
            return w, h
        if fmt == "bmp":
            if len(data) < 26:
                return None
            header_size = struct.unpack("<I", data[14:18])[0]
            if header_size == 12:   # OS/2 BITMAPCOREHEADER: 16-bit sizes
                w, h = struct.unpack("<HH", data[18:22])
                return w, h
            w, h = struct.unpack("<ii", data[18:26])
            return abs(w), abs(h)
        if fmt == "gif":
            if len(data) < 10:
                return None
            w, h = struct.unpack("<HH", data[6:10])
            return w, h
        if fmt == "webp":
            if len(data) < 30:
                return None
            chunk = data[12:16]
            if chunk == b"VP8X":
                return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
            if chunk == b"VP8 ":
                w, h = struct.unpack("<HH", data[26:30])
                return w & 0x3FFF, h & 0x3FFF
            if chunk == b"VP8L":
                b = data[21:25]
                w = 1 + (((b[1] & 0x3F) << 8) | b[0])
                h = 1 + (((b[3] & 0xF) << 10) | (b[2] << 2) | ((b[1] & 0xC0) >> 6))
                return w, h
            return None
        if fmt == "jpeg":
            return _jpeg_size(data)
        if fmt == "tiff":
            return _tiff_size(data)
        if fmt == "pnm":
            return _pnm_size(data)
        if fmt == "jp2":
            return _jp2_size(data)
        if fmt == "j2k":
            return _j2k_size(data)
        if fmt == "avif":
            return _avif_size(data)
        if fmt == "sunras":
            if len(data) < 12:
                return None
            w, h = struct.unpack(">II", data[4:12])
            return w, h
    except struct.error:
        return None
    return None


# -- limits -----------------------------------------------------------------------------------------

def _check_pixels(w: int, h: int, max_pixels: int, source: str, when: str = "refused before decoding") -> None:
    if w * h > max_pixels:
        raise ImageTooLargeError(
            f"{source}: image is {w}x{h} = {w * h:,} pixels, over the limit of {max_pixels:,} "
            f"(max_pixels); {when}"
        )


def _check_bytes(nbytes: int, max_bytes: Optional[int], source: str) -> None:
    if max_bytes is not None and nbytes > max_bytes:
        raise ImageTooLargeError(
            f"{source}: input is {nbytes:,} bytes, over the limit of {max_bytes:,} bytes "
            f"(max_batch_bytes); refused before reading"
        )


def input_nbytes(item: object) -> int:
    """Bytes one input brings into a call: the file size of a path (0 when it cannot be
    stat'ed: that image then fails on its own), the length of encoded bytes, an array's buffer."""
    if isinstance(item, np.ndarray):
        return int(item.nbytes)
    if isinstance(item, (bytes, bytearray)):
        return len(item)
    if isinstance(item, memoryview):
        return int(item.nbytes)
    if isinstance(item, (str, os.PathLike)):
        try:
            return int(os.stat(item).st_size)
        except (OSError, ValueError, TypeError):
            return 0
    return 0


def check_batch_bytes(items: Iterable[object], max_batch_bytes: Optional[int]) -> int:
    """Total input bytes of one call; BatchTooLargeError when over ``max_batch_bytes`` (None: no
    limit). Run before any image is decoded."""
    items = list(items)
    sizes = [input_nbytes(x) for x in items]
    total = sum(sizes)
    if max_batch_bytes is not None and total > max_batch_bytes:
        biggest = max(range(len(sizes)), key=sizes.__getitem__)
        raise BatchTooLargeError(
            f"batch of {len(items)} images is {total:,} bytes, over the limit of {max_batch_bytes:,} "
            f"bytes (max_batch_bytes); largest is {describe_source(items[biggest], biggest)} "
            f"({sizes[biggest]:,} bytes); split the call or raise max_batch_bytes"
        )
    return total


# -- conversion and decoding ------------------------------------------------------------------------

def normalise_array(arr: np.ndarray, colour_order: str, source: str) -> np.ndarray:
    """uint8/uint16/bool gray, gray+alpha, 3- or 4-channel array in ``colour_order`` -> BGR uint8 HxWx3."""
    if not isinstance(arr, np.ndarray):
        raise InvalidImageError(f"{source}: expected a numpy array, got {type(arr).__name__}")
    if arr.dtype == np.uint16:
        arr = (arr >> 8).astype(np.uint8)
    elif arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    elif arr.dtype != np.uint8:
        raise InvalidImageError(
            f"{source}: pixel dtype {arr.dtype} is not supported; pass uint8 (0-255) or uint16 pixels"
        )
    if arr.ndim == 3 and arr.shape[2] in (1, 2):
        arr = arr[:, :, 0]          # gray, or gray + alpha: faces are read from the gray channel
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise InvalidImageError(
            f"{source}: array shape {arr.shape} is not an image (want HxW, HxWx1, HxWx2, HxWx3 or HxWx4)")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InvalidImageError(f"{source}: image is empty ({arr.shape[1]}x{arr.shape[0]})")
    if arr.ndim == 2:
        return cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_GRAY2BGR)
    if arr.shape[2] == 4:
        arr = arr[:, :, :3]  # drop alpha: faces are read from the colour channels
    if colour_order == "RGB":
        arr = arr[:, :, ::-1]
    return np.ascontiguousarray(arr)


def decode_bytes(data: bytes, source: str, max_pixels: int) -> np.ndarray:
    if len(data) == 0:
        raise InvalidImageError(f"{source}: file is empty (0 bytes)")
    fmt = sniff_format(data)
    if fmt is None:
        raise InvalidImageError(
            f"{source}: not a supported image format (unrecognised signature {data[:8].hex(' ')}); "
            f"use JPEG, PNG, BMP, WebP, GIF, TIFF, PNM, JPEG 2000 or AVIF")
    if fmt in ("pfm", "hdr", "exr"):
        raise InvalidImageError(
            f"{source}: {fmt.upper()} images hold floating-point pixels, which are not supported; "
            f"convert to 8- or 16-bit")
    size = image_size_from_header(data)
    if size is None:
        raise InvalidImageError(f"{source}: corrupt or truncated {fmt.upper()} header (image size not found)")
    _check_pixels(size[0], size[1], max_pixels, source)
    if size[0] < 1 or size[1] < 1:
        raise InvalidImageError(f"{source}: {fmt.upper()} header gives an empty image ({size[0]}x{size[1]})")
    if fmt == "jpeg" and not jpeg_is_complete(data):
        raise InvalidImageError(f"{source}: truncated JPEG (no end-of-image marker after the scan data)")
    try:
        img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise InvalidImageError(f"{source}: corrupt {fmt.upper()} image ({exc.err.strip() or 'OpenCV error'})") from exc
    if img is None or img.size == 0:
        raise InvalidImageError(f"{source}: not a decodable {fmt.upper()} image (corrupt or truncated)")
    # belt and braces: the decoded size must also respect the limit (headers can disagree)
    _check_pixels(img.shape[1], img.shape[0], max_pixels, source, "decoded size differs from the header")
    if img.dtype not in (np.uint8, np.uint16):
        raise InvalidImageError(
            f"{source}: {fmt.upper()} image has {img.dtype} pixels (HDR / float / signed), not supported; "
            f"convert it to 8- or 16-bit")
    # decoded images are BGR(A) in OpenCV; 16-bit and gray are normalised the same way as arrays
    return normalise_array(img, "BGR", source)


def read_image_file(item: Union[str, os.PathLike], source: str, max_bytes: Optional[int] = None) -> bytes:
    """The bytes of a regular file. Opened without blocking and checked on the open descriptor, so
    a FIFO, device or folder (even one swapped in after a check) is refused rather than read, and
    at most ``max_bytes`` are read (a file that grows meanwhile is refused too)."""
    try:
        path = os.fspath(item)
        if not path:
            raise InvalidImageError(f"{source}: the path is empty")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InvalidImageError(f"{source}: no such file") from None
    except (OSError, ValueError, TypeError) as exc:
        if isinstance(exc, InvalidImageError):
            raise
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidImageError(f"{source}: cannot read file ({why})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidImageError(f"{source}: not a regular file")
        _check_bytes(st.st_size, max_bytes, source)
    except BaseException:
        os.close(fd)
        raise
    with open(fd, "rb", closefd=True) as fh:
        try:
            data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
        except OSError as exc:
            raise InvalidImageError(f"{source}: cannot read file ({exc.strerror or exc})") from None
    _check_bytes(len(data), max_bytes, source)
    return data


def load_image(item: ImageInput, colour_order: Optional[str], max_pixels: int, index: int = 0,
               max_bytes: Optional[int] = None) -> LoadedImage:
    """Path / encoded bytes / numpy array -> LoadedImage (BGR uint8). Raises InvalidImageError
    (or ImageTooLargeError) naming the source. ``max_bytes`` bounds encoded inputs (checked on
    the file size before reading)."""
    if colour_order is not None and colour_order not in COLOUR_ORDERS:
        raise ValueError(f"colour_order must be 'BGR' or 'RGB', not {colour_order!r}")
    source = describe_source(item, index)
    if isinstance(item, (str, os.PathLike)):
        return LoadedImage(decode_bytes(read_image_file(item, source, max_bytes), source, max_pixels), source)
    if isinstance(item, (bytes, bytearray, memoryview)):
        data = item.tobytes() if isinstance(item, memoryview) else bytes(item)
        _check_bytes(len(data), max_bytes, source)
        return LoadedImage(decode_bytes(data, source, max_pixels), source)
    if isinstance(item, np.ndarray):
        if colour_order is None:
            raise InvalidImageError(
                f"{source}: numpy arrays need an explicit colour_order='BGR' (OpenCV) or 'RGB' (PIL, skimage)"
            )
        if item.ndim >= 2:
            _check_pixels(item.shape[1], item.shape[0], max_pixels, source, "refused before conversion")
        return LoadedImage(normalise_array(item, colour_order, source), source)
    raise InvalidImageError(f"{source}: unsupported input type {type(item).__name__} (want a path, bytes or numpy array)")
