"""Bad-input classes of the image loader: each asserts the exact exception type and message part."""
from __future__ import annotations

import os
import struct

import cv2
import numpy as np
import pytest

from agegender_edge import imageio
from agegender_edge.errors import BatchTooLargeError, ImageTooLargeError, InvalidImageError, ResourceLimitError
from agegender_edge.imageio import (DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_PIXELS, check_batch_bytes,
                                    image_size_from_header, input_nbytes, load_image, sniff_format)
from tests.fuzz.strategies import png_bomb

MP = DEFAULT_MAX_PIXELS


@pytest.fixture(scope="module")
def face(face_paths) -> np.ndarray:
    return cv2.imread(str(face_paths[0]))


@pytest.fixture(scope="module")
def face_jpeg(face_paths) -> bytes:
    return face_paths[0].read_bytes()


@pytest.fixture
def no_decode(monkeypatch):
    """Fail the test if OpenCV is asked to decode anything (limits must act on the header)."""
    def boom(*a, **k):
        raise AssertionError("cv2.imdecode was called: the image was not refused before decoding")
    monkeypatch.setattr(imageio.cv2, "imdecode", boom)


def expect(exc_type, part, item, colour_order=None, max_pixels=MP, **kw):
    with pytest.raises(exc_type) as info:
        load_image(item, colour_order, max_pixels, **kw)
    assert type(info.value) is exc_type
    assert part in str(info.value), str(info.value)
    return str(info.value)


# -- files and paths --------------------------------------------------------------------------------

def test_missing_file_names_the_file(tmp_path):
    p = tmp_path / "nope.jpg"
    msg = expect(InvalidImageError, "no such file", p)
    assert msg.startswith(f"{p}: ")


def test_directory_is_not_an_image(tmp_path):
    expect(InvalidImageError, "not a regular file", tmp_path)


def test_empty_path():
    expect(InvalidImageError, "<empty path 0>: the path is empty", "")


def test_path_with_nul_byte():
    expect(InvalidImageError, "cannot read file (embedded null byte)", "bad\x00name.jpg")


def test_path_too_long():
    expect(InvalidImageError, "cannot read file (File name too long)", "x" * 5000)


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    expect(InvalidImageError, "not a regular file", fifo)


def test_device_is_refused():
    expect(InvalidImageError, "not a regular file", "/dev/zero")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    expect(InvalidImageError, "file is empty (0 bytes)", p)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path, face_jpeg):
    p = tmp_path / "secret.jpg"
    p.write_bytes(face_jpeg)
    p.chmod(0)
    expect(InvalidImageError, "cannot read file (Permission denied)", p)


def test_unsupported_input_type():
    expect(InvalidImageError, "<int 0>: unsupported input type int", 42)
    expect(InvalidImageError, "<NoneType 3>: unsupported input type NoneType", None, index=3)


def test_bad_colour_order_is_a_usage_error(face):
    with pytest.raises(ValueError, match="colour_order must be 'BGR' or 'RGB'"):
        load_image(face, "bgr", MP)


# -- corrupt, truncated, unsupported ------------------------------------------------------------------

def test_random_bytes_are_not_an_image():
    msg = expect(InvalidImageError, "not a supported image format (unrecognised signature", os.urandom(64) + b"\x00")
    assert msg.startswith("<bytes 0>: ")


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.95])
def test_truncated_jpeg(face_jpeg, cut):
    expect(InvalidImageError, "truncated JPEG (no end-of-image marker", face_jpeg[: int(len(face_jpeg) * cut)])


def test_jpeg_without_eoi_marker(face_jpeg):
    assert face_jpeg.endswith(b"\xff\xd9")
    expect(InvalidImageError, "truncated JPEG", face_jpeg[:-2])


def test_jpeg_cut_in_its_header(face_jpeg):
    expect(InvalidImageError, "corrupt or truncated JPEG header", face_jpeg[:40])


def test_jpeg_with_trailing_data_still_loads(face_jpeg, face):
    img = load_image(face_jpeg + b"\x00trailer" * 100, None, MP).bgr
    assert np.array_equal(img, face)


@pytest.mark.parametrize("ext", [".png", ".bmp", ".webp", ".tiff", ".gif"])
def test_truncated_lossless_formats(face, ext):
    data = cv2.imencode(ext, face)[1].tobytes()
    fmt = sniff_format(data).upper()
    # OpenCV writes the TIFF directory at the end of the file: cut in half, the header is gone
    part = "corrupt or truncated TIFF header" if fmt == "TIFF" else f"not a decodable {fmt} image (corrupt or truncated)"
    expect(InvalidImageError, part, data[: len(data) // 2])


@pytest.mark.parametrize("kind,data", [
    ("PFM", b"PF\n2 2\n-1\n" + bytes(48)),
    ("HDR", b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 2 +X 2\n" + bytes(16)),
    ("EXR", b"\x76\x2f\x31\x01" + bytes(64)),
])
def test_float_formats_are_refused(kind, data, no_decode):
    expect(InvalidImageError, f"{kind} images hold floating-point pixels", data)


def test_float_tiff_is_refused(face):
    data = cv2.imencode(".tiff", face.astype(np.float32) / 255)[1].tobytes()
    expect(InvalidImageError, "TIFF image has float32 pixels", data)


# -- decompression bombs and the pixel limit ------------------------------------------------------------

def _patch(data: bytes, offset: int, fmt: str, *values) -> bytes:
    return data[:offset] + struct.pack(fmt, *values) + data[offset + struct.calcsize(fmt):]


def _bombs(face):
    png = png_bomb(100_000, 100_000)
    jpg = cv2.imencode(".jpg", face)[1].tobytes()
    sof = jpg.find(b"\xff\xc0")
    bmp = cv2.imencode(".bmp", face)[1].tobytes()
    webp = cv2.imencode(".webp", face, [cv2.IMWRITE_WEBP_QUALITY, 101])[1].tobytes()   # VP8L
    gif = cv2.imencode(".gif", face)[1].tobytes()
    tif = cv2.imencode(".tiff", face)[1].tobytes()
    ppm = cv2.imencode(".ppm", face)[1].tobytes()
    jp2 = cv2.imencode(".jp2", face)[1].tobytes()
    ihdr = jp2.find(b"ihdr")
    vp8x = b"RIFF\x20\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00" + (99_999).to_bytes(3, "little") * 2
    return {
        "png": (png, "100000x100000"),
        "jpeg": (_patch(jpg, sof + 5, ">HH", 65_000, 65_000), "65000x65000"),
        "bmp": (_patch(bmp, 18, "<ii", 60_000, -60_000), "60000x60000"),
        "webp_vp8l": (webp[:21] + bytes([0xFF, 0xFF, 0xFF, 0x0F]) + webp[25:], "16384x16384"),
        "webp_vp8x": (vp8x, "100000x100000"),
        "gif": (_patch(gif, 6, "<HH", 65_535, 65_535), "65535x65535"),
        "tiff": (ppm and _tiff_bomb(tif), "70000x70000"),
        "pnm": (b"P6\n70000 70000\n255\n" + ppm[15:], "70000x70000"),
        "jp2": (_patch(jp2, ihdr + 4, ">II", 80_000, 80_000), "80000x80000"),
    }


def _tiff_bomb(tif: bytes) -> bytes:
    ifd = struct.unpack("<I", tif[4:8])[0]
    count = struct.unpack("<H", tif[ifd:ifd + 2])[0]
    out = bytearray(tif)
    for i in range(count):
        e = ifd + 2 + 12 * i
        tag, typ = struct.unpack("<HH", tif[e:e + 4])
        if tag in (256, 257):
            out[e + 2:e + 4] = struct.pack("<H", 4)
            out[e + 8:e + 12] = struct.pack("<I", 70_000)
    return bytes(out)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "bmp", "webp_vp8l", "webp_vp8x", "gif", "tiff", "pnm", "jp2"])
def test_decompression_bombs_refused_before_decoding(face, fmt, no_decode):
    data, dims = _bombs(face)[fmt]
    assert len(data) < 200_000
    msg = expect(ImageTooLargeError, dims, data)
    assert "refused before decoding" in msg and "(max_pixels)" in msg


def test_png_bomb_file_refused_before_decoding(tmp_path, no_decode):
    p = tmp_path / "bomb.png"
    p.write_bytes(png_bomb(100_000, 100_000))
    assert p.stat().st_size < 200
    msg = expect(ImageTooLargeError, "image is 100000x100000 = 10,000,000,000 pixels, over the limit of 50,000,000", p)
    assert msg.startswith(f"{p}: ")


def test_pixel_limit_is_configurable(face_jpeg):
    expect(ImageTooLargeError, "200x200 = 40,000 pixels, over the limit of 39,999", face_jpeg, max_pixels=39_999)
    assert load_image(face_jpeg, None, 40_000).bgr.shape == (200, 200, 3)


def test_array_over_the_pixel_limit_is_refused_without_touching_it():
    huge = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (100_000, 100_000, 3))   # no memory behind it
    expect(ImageTooLargeError, "100000x100000", huge, "BGR")


def test_too_large_is_also_invalid_image_and_resource_limit():
    assert issubclass(ImageTooLargeError, InvalidImageError)
    assert issubclass(ImageTooLargeError, ResourceLimitError)
    assert issubclass(BatchTooLargeError, ResourceLimitError) and not issubclass(BatchTooLargeError, InvalidImageError)


# -- byte limits --------------------------------------------------------------------------------------

def test_byte_limit_on_bytes_and_files(tmp_path, face_jpeg, no_decode):
    n = len(face_jpeg)
    expect(ImageTooLargeError, f"input is {n:,} bytes, over the limit of 1,000 bytes", face_jpeg, max_bytes=1000)
    p = tmp_path / "f.jpg"
    p.write_bytes(face_jpeg)
    expect(ImageTooLargeError, "refused before reading", p, max_bytes=1000)


def test_batch_byte_limit(tmp_path, face_jpeg):
    p = tmp_path / "f.jpg"
    p.write_bytes(face_jpeg)
    arr = np.zeros((100, 100, 3), np.uint8)
    items = [str(p), face_jpeg, arr, tmp_path / "missing.jpg"]
    assert [input_nbytes(x) for x in items] == [len(face_jpeg), len(face_jpeg), 30_000, 0]
    total = 2 * len(face_jpeg) + 30_000
    assert check_batch_bytes(items, total) == total
    assert check_batch_bytes(items, None) == total
    with pytest.raises(BatchTooLargeError) as info:
        check_batch_bytes(items, total - 1)
    assert f"batch of 4 images is {total:,} bytes, over the limit of {total - 1:,}" in str(info.value)
    assert "largest is <array 2> (30,000 bytes)" in str(info.value)
    assert DEFAULT_MAX_BATCH_BYTES == 1 << 30


# -- arrays: dtypes and shapes --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint32, np.complex64])
def test_unsupported_array_dtypes(dtype):
    expect(InvalidImageError, f"pixel dtype {np.dtype(dtype)} is not supported", np.zeros((8, 8, 3), dtype), "RGB")


@pytest.mark.parametrize("shape", [(5,), (4, 4, 5), (4, 4, 3, 1), (2, 2, 2, 2, 2), ()])
def test_non_image_shapes(shape):
    expect(InvalidImageError, "is not an image", np.zeros(shape, np.uint8), "BGR")


@pytest.mark.parametrize("shape", [(0, 10, 3), (10, 0), (0, 5), (0, 0, 4), (3, 0, 1)])
def test_empty_arrays(shape):
    # (0, 5) / (10, 0) used to reach cv2.cvtColor and raise cv2.error instead of InvalidImageError
    expect(InvalidImageError, "image is empty", np.zeros(shape, np.uint8), "BGR")


def test_array_needs_explicit_colour_order(face):
    expect(InvalidImageError, "<array 0>: numpy arrays need an explicit colour_order", face)


# -- conversions that must work ---------------------------------------------------------------------------

def test_rgb_and_bgr_arrays(face):
    assert np.array_equal(load_image(face, "BGR", MP).bgr, face)
    assert np.array_equal(load_image(face[:, :, ::-1], "RGB", MP).bgr, face)
    assert np.array_equal(load_image(np.ascontiguousarray(face[::2]), "BGR", MP).bgr, face[::2])


def test_gray_16bit_rgba_and_gray_alpha(face):
    gray = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    for arr in (gray, gray[:, :, None], np.dstack([gray, np.full_like(gray, 7)])):
        out = load_image(arr, "RGB", MP).bgr
        assert out.shape == (200, 200, 3) and np.array_equal(out[:, :, 0], gray) and np.array_equal(out[:, :, 2], gray)
    rgba = np.dstack([face[:, :, ::-1], np.zeros_like(gray)])
    assert np.array_equal(load_image(rgba, "RGB", MP).bgr, face)
    assert np.array_equal(load_image(face.astype(np.uint16) * 257, "BGR", MP).bgr, face)
    assert np.array_equal(load_image(np.ones((4, 4), bool), "BGR", MP).bgr, np.full((4, 4, 3), 255, np.uint8))


@pytest.mark.parametrize("name,make", [
    ("gray.png", lambda f: cv2.imencode(".png", cv2.cvtColor(f, cv2.COLOR_BGR2GRAY))[1]),
    ("rgba.png", lambda f: cv2.imencode(".png", cv2.cvtColor(f, cv2.COLOR_BGR2BGRA))[1]),
    ("16bit.png", lambda f: cv2.imencode(".png", f.astype(np.uint16) * 257)[1]),
    ("16bit.tiff", lambda f: cv2.imencode(".tiff", f.astype(np.uint16) * 257)[1]),
])
def test_gray_rgba_16bit_files_are_converted(tmp_path, face, name, make):
    p = tmp_path / name
    p.write_bytes(make(face).tobytes())
    out = load_image(p, None, MP).bgr
    assert out.dtype == np.uint8 and out.shape == (200, 200, 3) and out.flags.c_contiguous
    ref = cv2.cvtColor(cv2.cvtColor(face, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR) if "gray" in name else face
    assert np.array_equal(out, ref)


def test_header_sizes_match_decoded_sizes(face):
    img = cv2.resize(face, (123, 77))
    for ext in (".jpg", ".png", ".bmp", ".webp", ".gif", ".tiff", ".ppm", ".pgm", ".jp2", ".avif", ".ras"):
        src = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if ext == ".pgm" else img
        try:
            data = cv2.imencode(ext, src)[1].tobytes()
        except cv2.error:
            continue
        assert image_size_from_header(data) == (123, 77), ext
        assert load_image(data, None, MP).bgr.shape == (77, 123, 3), ext
    lossy = cv2.imencode(".webp", img, [cv2.IMWRITE_WEBP_QUALITY, 50])[1].tobytes()
    assert lossy[12:16] == b"VP8 " and image_size_from_header(lossy) == (123, 77)


def test_bmp_os2_header_size():
    bmp = b"BM" + struct.pack("<IHHI", 26 + 12, 0, 0, 26) + struct.pack("<IHHHH", 12, 3000, 2000, 1, 24)
    assert image_size_from_header(bmp) == (3000, 2000)


def test_png_with_crc_error_is_invalid(face):
    data = bytearray(cv2.imencode(".png", face)[1].tobytes())
    idat = data.find(b"IDAT")
    data[idat + 10] ^= 0xFF
    expect(InvalidImageError, "not a decodable PNG image", bytes(data))


def test_refused_files_leak_no_descriptors(tmp_path, face_jpeg):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    big = tmp_path / "big.jpg"
    big.write_bytes(face_jpeg)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(100):
        for item, kw in ((tmp_path, {}), (fifo, {}), ("/dev/zero", {}), (big, {"max_bytes": 10})):
            with pytest.raises(InvalidImageError):
                load_image(item, None, MP, **kw)
    assert len(os.listdir("/proc/self/fd")) == before
