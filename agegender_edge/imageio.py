"""Turn whatever the user passes (path, bytes, numpy array) into a BGR uint8 HxWx3 image.

Safety rules (docs/ERRORS.md):

* Only known image formats are decoded (JPEG, PNG, BMP, WebP, GIF, TIFF, PNM, JPEG 2000, AVIF,
  Sun raster); their width and height are read from the header (Pillow's header parsers; WebP's
  chunk header directly) and checked against ``max_pixels`` *before* OpenCV decodes anything
  (decompression bombs). A file whose format or size cannot be recognised from its header is
  refused, never handed to a decoder blindly.
* The EXIF orientation of JPEG, PNG and WebP files is applied after decoding (TIFF: by libtiff
  itself), so faces are detected, and boxes reported, in the upright image (what photo viewers show).
* Encoded inputs over ``max_bytes`` are refused before they are read.
* A JPEG without its end-of-image marker after the scan data (truncated download) is refused, on
  every OpenCV version (older libjpeg builds silently grey-fill the missing rows).
* Float-pixel formats (PFM, Radiance HDR, OpenEXR) are refused before decoding.
* Grayscale, gray+alpha, RGBA and 16-bit images are converted; float / signed pixels, empty and
  non-image shapes raise InvalidImageError naming the source and the problem.
"""
from __future__ import annotations

import io
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


def _webp_size(data: bytes) -> Optional[tuple[int, int]]:
    """(width, height) of a WebP from its first chunk header (VP8 / VP8L / VP8X).

    Not through Pillow, measured (Pillow 13): its WebP plugin creates libwebp's animation decoder
    when the file is opened, which reserves the canvas before any size check (an 8000x6000 file:
    +378 MiB peak virtual memory) and cannot read a header without image data ("could not create
    decoder object"), so an oversized header-only bomb would be reported as corrupt, not as too
    large. The three chunk headers below are all a size check needs."""
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


def _pillow_header(data: bytes, fmt: str):
    """The format's Pillow image file, opened lazily: its constructor parses the header only (no
    pixel data is decoded; Image.open is not used, so Pillow's own decompression-bomb limit does
    not pre-empt ``max_pixels``). None when Pillow cannot parse the header."""
    from PIL import (BmpImagePlugin, GifImagePlugin, Jpeg2KImagePlugin, JpegImagePlugin, PngImagePlugin,
                     PpmImagePlugin, SunImagePlugin, TiffImagePlugin)
    plugins = {"jpeg": JpegImagePlugin.JpegImageFile, "png": PngImagePlugin.PngImageFile,
               "bmp": BmpImagePlugin.BmpImageFile, "gif": GifImagePlugin.GifImageFile,
               "tiff": TiffImagePlugin.TiffImageFile, "pnm": PpmImagePlugin.PpmImageFile,
               "jp2": Jpeg2KImagePlugin.Jpeg2KImageFile, "j2k": Jpeg2KImagePlugin.Jpeg2KImageFile,
               "sunras": SunImagePlugin.SunImageFile}
    if fmt == "avif":
        try:
            from PIL import AvifImagePlugin       # Pillow >= 11.3
        except ImportError:
            return None
        plugins["avif"] = AvifImagePlugin.AvifImageFile
    if fmt == "webp":
        from PIL import WebPImagePlugin
        plugins["webp"] = WebPImagePlugin.WebPImageFile
    factory = plugins.get(fmt)
    if factory is None:
        return None
    try:
        return factory(io.BytesIO(data))
    except Exception:   # Pillow raises SyntaxError / OSError / ValueError / struct.error ... on bad headers
        return None


def _tiff_ifd0(data: bytes):
    """The first image file directory of a TIFF, parsed by Pillow's IFD reader. Not through
    TiffImageFile: it refuses pixel layouts it cannot decode itself (float RGB), which are a
    decoding question answered later, not a header one."""
    from PIL.TiffImagePlugin import ImageFileDirectory_v2
    try:
        fp = io.BytesIO(data)
        ifd = ImageFileDirectory_v2(data[:8])
        fp.seek(ifd.next)
        ifd.load(fp)
        return ifd
    except Exception:   # Pillow raises OSError / ValueError / struct.error ... on a bad IFD
        return None


def image_size_from_header(data: bytes) -> Optional[tuple[int, int]]:
    """(width, height) from the image header, None when the format or its size is not known.
    Used to refuse oversized images before decoding them."""
    fmt = sniff_format(data)
    if fmt is None or fmt in ("pfm", "hdr", "exr"):
        return None
    if fmt == "webp":
        return _webp_size(data)
    if fmt == "tiff":
        ifd = _tiff_ifd0(data)
        if ifd is None or 256 not in ifd or 257 not in ifd:
            return None
        try:
            return int(ifd[256]), int(ifd[257])
        except (TypeError, ValueError):   # a width given as a list or a rational: not a valid TIFF
            return None
    im = _pillow_header(data, fmt)
    if im is None:
        return None
    with im:
        return tuple(int(v) for v in im.size)  # type: ignore[return-value]


# -- EXIF orientation -----------------------------------------------------------------------------

# Formats whose EXIF orientation tag is applied here. Not TIFF: OpenCV reads 8-bit TIFFs through
# libtiff's RGBA interface, which applies the orientation tag itself (measured on OpenCV 4.14,
# all 8 orientations; tests/hardening/test_imageio_exif.py holds it). Not AVIF: HEIF carries its
# rotation in irot/imir boxes, applied by the decoder, and the EXIF tag there must be ignored.
EXIF_ORIENTED_FORMATS = ("jpeg", "png", "webp")
EXIF_ORIENTATION_TAG = 0x0112


def exif_orientation(data: bytes, fmt: Optional[str] = None) -> int:
    """The EXIF orientation (1-8) of an encoded image; 1 when absent, unreadable or not applicable."""
    fmt = fmt or sniff_format(data)
    if fmt not in EXIF_ORIENTED_FORMATS:
        return 1
    im = _pillow_header(data, fmt)
    if im is None:
        return 1
    with im:
        return _orientation_of(im)


def _orientation_of(im) -> int:
    try:
        # Image.getexif reads what the header parse found (JPEG APP1, PNG eXIf before IDAT,
        # WebP EXIF chunk) without decoding pixels; PngImageFile.getexif would
        # decode the whole image to look for an eXIf chunk after IDAT.
        from PIL import Image
        value = Image.Image.getexif(im).get(EXIF_ORIENTATION_TAG, 1)
    except Exception:   # a corrupt EXIF block does not make the image unusable
        return 1
    try:
        value = int(value)
    except (TypeError, ValueError):
        return 1
    return value if 1 <= value <= 8 else 1


def header_size_and_orientation(data: bytes, fmt: str) -> tuple[Optional[tuple[int, int]], int]:
    """image_size_from_header and exif_orientation from one header parse where Pillow reads
    both (JPEG, PNG): the header is the largest per-file cost after decode for small photos."""
    if fmt in ("jpeg", "png"):
        im = _pillow_header(data, fmt)
        if im is None:
            return None, 1
        with im:
            return tuple(int(v) for v in im.size), _orientation_of(im)  # type: ignore[return-value]
    size = image_size_from_header(data)
    return size, (exif_orientation(data, fmt) if size is not None else 1)


def apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """Pixels as stored -> the upright image the EXIF orientation describes (as Pillow's
    ImageOps.exif_transpose does). Works on HxW and HxWxC arrays of any dtype."""
    if orientation == 2:
        out = img[:, ::-1]
    elif orientation == 3:
        out = img[::-1, ::-1]
    elif orientation == 4:
        out = img[::-1]
    elif orientation == 5:
        out = img.swapaxes(0, 1)
    elif orientation == 6:
        out = img[::-1].swapaxes(0, 1)           # rotate 90 degrees clockwise
    elif orientation == 7:
        out = img[::-1, ::-1].swapaxes(0, 1)
    elif orientation == 8:
        out = img[:, ::-1].swapaxes(0, 1)        # rotate 90 degrees counter-clockwise
    else:
        return img
    return np.ascontiguousarray(out)


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


@dataclass(frozen=True)
class EncodedHeader:
    """What check_header read from an encoded image: its format, size and EXIF orientation."""

    fmt: str
    width: int
    height: int
    orientation: int


def check_header(data: bytes, source: str, max_pixels: int) -> EncodedHeader:
    """Every refusal that needs no decoding (empty, unknown or float format, no size, too many
    pixels, empty image, truncated JPEG), from one header parse; raises InvalidImageError or
    ImageTooLargeError naming ``source``."""
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
    size, orientation = header_size_and_orientation(data, fmt)
    if size is None:
        raise InvalidImageError(f"{source}: corrupt or truncated {fmt.upper()} header (image size not found)")
    _check_pixels(size[0], size[1], max_pixels, source)
    if size[0] < 1 or size[1] < 1:
        raise InvalidImageError(f"{source}: {fmt.upper()} header gives an empty image ({size[0]}x{size[1]})")
    if fmt == "jpeg" and not jpeg_is_complete(data):
        raise InvalidImageError(f"{source}: truncated JPEG (no end-of-image marker after the scan data)")
    return EncodedHeader(fmt, size[0], size[1], orientation)


def decode_bytes(data: bytes, source: str, max_pixels: int, header: Optional[EncodedHeader] = None) -> np.ndarray:
    """Encoded image -> BGR uint8. ``header``: check_header's result when the caller already has
    it (scaled_decode), so the header is parsed once per image."""
    header = header or check_header(data, source, max_pixels)
    fmt, orientation = header.fmt, header.orientation
    try:
        img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise InvalidImageError(f"{source}: corrupt {fmt.upper()} image ({exc.err.strip() or 'OpenCV error'})") from exc
    if img is None or img.size == 0:
        raise InvalidImageError(f"{source}: not a decodable {fmt.upper()} image (corrupt or truncated)")
    # OpenCV's IMREAD_UNCHANGED (kept for 16-bit and alpha) never applies EXIF orientation; it is
    # applied here, the same way for every format that carries it and on every OpenCV version
    img = apply_orientation(img, orientation)
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
