"""Fuzz inputs for the image-decoding and ``predict`` entry points (hypothesis strategies) and
the oracle every case must satisfy. Shared by the long fuzz target (tests/fuzz/test_fuzz_images.py,
``-m fuzz``) and its short seeded version in the default suite (tests/hardening/test_fuzz_short.py).

Seeds are real images from ../shared/data (UTKFace chips, an Adience face, a multi-face canvas)
in JPEG (baseline, progressive, gray), PNG (8/16-bit, gray, gray+alpha, RGBA), BMP, WebP (lossy,
lossless), GIF, TIFF, PNM, JPEG 2000 and AVIF, mutated by bit flips, byte overwrites, header-field
overwrites with extreme values, truncation, insertion, deletion, chunk duplication and splicing;
plus random bytes, format magic followed by random bytes, numpy arrays of odd shapes and dtypes,
and arbitrary Python objects.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import cv2
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from agegender_edge.errors import AgeGenderError, ImageTooLargeError, InvalidImageError
from agegender_edge.imageio import describe_source, load_image

HERE = Path(__file__).resolve().parent
SHARED_DATA = (HERE.parents[1].parent / "shared" / "data").resolve()
FACES_48 = SHARED_DATA / "fixtures" / "utkface_48"

#: every exception type a per-image failure may have (docs/ERRORS.md)
DOCUMENTED_IMAGE_ERRORS = {"InvalidImageError": InvalidImageError, "ImageTooLargeError": ImageTooLargeError}
FUZZ_MAX_PIXELS = 4_000_000   # the fuzz predictors' limit (keeps 10,000 cases fast); the default is tested elsewhere


@functools.lru_cache(maxsize=1)
def seed_corpus() -> dict[str, bytes]:
    faces = sorted(FACES_48.glob("*.jpg"))
    adience = sorted((SHARED_DATA / "adience" / "sample_faces").rglob("*.jpg"))
    canvas = SHARED_DATA / "fixtures" / "multi_face_canvas_0.jpg"
    corpus: dict[str, bytes] = {}
    for i, p in enumerate(faces[:3]):
        corpus[f"utk{i}.jpg"] = p.read_bytes()
    if adience:
        corpus["adience.jpg"] = adience[0].read_bytes()
    face = cv2.imread(str(faces[0]))
    small_canvas = cv2.resize(cv2.imread(str(canvas)), (320, 213), interpolation=cv2.INTER_AREA)
    corpus["canvas_small.jpg"] = cv2.imencode(".jpg", small_canvas)[1].tobytes()
    gray = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    rgba = cv2.cvtColor(face, cv2.COLOR_BGR2BGRA)
    rgba[:20, :20, 3] = 0
    encodings = {
        "face.png": (".png", face, []),
        "face16.png": (".png", face.astype(np.uint16) * 257, []),
        "gray.png": (".png", gray, []),
        "rgba.png": (".png", rgba, []),
        "face.bmp": (".bmp", face, []),
        "gray.bmp": (".bmp", gray, []),
        "lossy.webp": (".webp", face, [cv2.IMWRITE_WEBP_QUALITY, 80]),
        "lossless.webp": (".webp", face, [cv2.IMWRITE_WEBP_QUALITY, 101]),
        "prog.jpg": (".jpg", face, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
        "gray.jpg": (".jpg", gray, []),
        "face.gif": (".gif", face, []),
        "face.tiff": (".tiff", face, []),
        "face16.tiff": (".tiff", face.astype(np.uint16) * 257, []),
        "face.ppm": (".ppm", face, []),
        "face.jp2": (".jp2", face, []),
        "face.avif": (".avif", face, []),
    }
    for name, (ext, img, params) in encodings.items():
        try:
            ok, buf = cv2.imencode(ext, img, params)
        except cv2.error:
            continue  # an OpenCV build without this encoder
        if ok:
            corpus[name] = buf.tobytes()
    # gray + alpha PNG (2 channels) via a hand-made 16x16 image is covered by arrays; PNG bombs:
    corpus["bomb.png"] = png_bomb(100_000, 100_000)
    return corpus


def png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims ``width`` x ``height`` (the IDAT holds a few zero rows)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# -- mutations --------------------------------------------------------------------------------------

_EXTREME = [b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00",
            b"\x00\x01\x86\xa0", b"\xff\xff", b"\x00\x00", b"\x01", b"\xff"]

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(0, 7)),
    st.tuples(st.just("set"), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("header"), st.integers(0, 96), st.sampled_from(_EXTREME)),
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("delete"), st.integers(0, 1 << 20), st.integers(1, 512)),
    st.tuples(st.just("dup"), st.integers(0, 1 << 20), st.integers(1, 4096)),
    st.tuples(st.just("zero"), st.integers(0, 1 << 20), st.integers(1, 2048)),
)


def apply_mutations(data: bytes, ops, other: bytes = b"") -> bytes:
    buf = bytearray(data)
    for op in ops:
        n = len(buf)
        if op[0] == "flip" and n:
            buf[op[1] % n] ^= 1 << op[2]
        elif op[0] == "set" and n:
            p = op[1] % n
            buf[p:p + len(op[2])] = op[2]
        elif op[0] == "header" and n:
            p = min(op[1], n)
            buf[p:p + len(op[2])] = op[2]
        elif op[0] == "truncate":
            del buf[int(n * op[1]):]
        elif op[0] == "insert":
            p = op[1] % (n + 1)
            buf[p:p] = op[2]
        elif op[0] == "delete" and n:
            p = op[1] % n
            del buf[p:p + op[2]]
        elif op[0] == "dup" and n:
            p = op[1] % n
            buf[p:p] = buf[p:p + op[2]]
        elif op[0] == "zero" and n:
            p = op[1] % n
            buf[p:p + op[2]] = bytes(len(buf[p:p + op[2]]))
        elif op[0] == "splice" and other:
            cut = op[1] % (n + 1)
            buf = buf[:cut] + bytearray(other[op[1] % len(other):])
    return bytes(buf)


@st.composite
def mutated_images(draw) -> bytes:
    corpus = seed_corpus()
    names = sorted(corpus)
    data = corpus[draw(st.sampled_from(names))]
    ops = draw(st.lists(mutation, min_size=1, max_size=6))
    if draw(st.integers(0, 9)) == 0:
        other = corpus[draw(st.sampled_from(names))]
        ops = ops + [("splice", draw(st.integers(0, 1 << 20)))]
        return apply_mutations(data, ops, other)
    return apply_mutations(data, ops)


_MAGICS = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"RIFF\x00\x00\x00\x00WEBPVP8L",
           b"RIFF\x00\x00\x00\x00WEBPVP8X", b"GIF89a", b"II*\x00", b"MM\x00*", b"P6\n", b"P5 ", b"PF\n",
           b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51", b"\x00\x00\x00\x1cftypavif", b"\x59\xa6\x6a\x95",
           b"#?RADIANCE\n", b"\x76\x2f\x31\x01"]

random_bytes = st.one_of(
    st.binary(max_size=512),
    st.builds(lambda m, tail: m + tail, st.sampled_from(_MAGICS), st.binary(max_size=512)),
)

_DTYPES = [np.uint8, np.uint16, np.bool_, np.int8, np.int16, np.int32, np.int64, np.float16, np.float32,
           np.float64, np.complex64, np.uint32]


@st.composite
def odd_arrays(draw) -> np.ndarray:
    dtype = draw(st.sampled_from(_DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=48))
    if draw(st.booleans()) and dtype in (np.uint8, np.uint16):
        # plausible images: HxW, HxWxC with C in 1..5, sometimes non-contiguous views
        h, w = draw(st.integers(0, 64)), draw(st.integers(0, 64))
        c = draw(st.sampled_from([None, 1, 2, 3, 4, 5]))
        shape = (h, w) if c is None else (h, w, c)
    arr = draw(hnp.arrays(dtype, shape)) if int(np.prod(shape)) <= 20_000 else np.zeros(shape, dtype)
    if arr.ndim >= 2 and arr.shape[0] > 1 and draw(st.booleans()):
        arr = arr[::2]  # a strided view
    if arr.ndim == 3 and arr.shape[2] > 1 and draw(st.booleans()):
        arr = arr[:, :, ::-1]  # negative strides
    return arr


odd_objects = st.sampled_from([None, 0, 3.5, "", "no/such/file.jpg", "/", "/dev/null", "\x00bad", b"", bytearray(b"\xff\xd8"),
                               [], {}, (1, 2), object(), np.float64(1.0), np.array(5, dtype=np.uint8),
                               memoryview(b"\x89PNG\r\n\x1a\n"), Path("."), "x" * 5000])


def fuzz_input():
    """One fuzz case: (kind, value, colour_order)."""
    return st.one_of(
        st.tuples(st.just("mutated"), mutated_images(), st.none()),
        st.tuples(st.just("mutated"), mutated_images(), st.none()),
        st.tuples(st.just("mutated"), mutated_images(), st.none()),
        st.tuples(st.just("mutated_file"), mutated_images(), st.none()),
        st.tuples(st.just("random"), random_bytes, st.none()),
        st.tuples(st.just("array"), odd_arrays(), st.sampled_from(["BGR", "RGB", None])),
        st.tuples(st.just("object"), odd_objects, st.sampled_from(["BGR", None])),
    )


# -- oracle -----------------------------------------------------------------------------------------

class Violation(AssertionError):
    """A fuzz case broke the contract (an undocumented exception, a bad result, a lost image)."""


def check_load(item, colour_order, max_pixels: int, index: int = 0) -> str:
    """load_image either returns a valid BGR uint8 image or raises a documented InvalidImageError
    (subclass) whose message starts with the source. Returns the outcome ("ok" or the type name)."""
    source = describe_source(item, index)
    try:
        img = load_image(item, colour_order, max_pixels, index)
    except AgeGenderError as exc:
        if type(exc).__name__ not in DOCUMENTED_IMAGE_ERRORS:
            raise Violation(f"undocumented error type {type(exc).__name__}: {exc}") from exc
        if not str(exc).startswith(f"{source}: "):
            raise Violation(f"message does not name the source {source!r}: {exc}")
        return type(exc).__name__
    except Exception as exc:
        raise Violation(f"load_image raised {type(exc).__name__}: {exc}") from exc
    b = img.bgr
    if not (isinstance(b, np.ndarray) and b.dtype == np.uint8 and b.ndim == 3 and b.shape[2] == 3
            and b.shape[0] >= 1 and b.shape[1] >= 1 and b.flags.c_contiguous and b.shape[0] * b.shape[1] <= max_pixels):
        raise Violation(f"bad image from load_image: {b.dtype} {b.shape}")
    return "ok"


def faces_close(a, b, tol: float = 1e-4) -> bool:
    """Two FaceResult lists agree (labels exactly, numbers within ``tol``)."""
    if len(a) != len(b):
        return False
    for fa, fb in zip(a, b):
        if fa.box != fb.box or fa.crop_box != fb.crop_box or fa.gender != fb.gender or fa.age_group != fb.age_group:
            return False
        nums_a = [fa.age, fa.age_std, fa.gender_probability, *fa.age_interval_80, *fa.age_group_probs.values()]
        nums_b = [fb.age, fb.age_std, fb.gender_probability, *fb.age_interval_80, *fb.age_group_probs.values()]
        if any(abs(x - y) > tol * max(1.0, abs(y)) for x, y in zip(nums_a, nums_b)):
            return False
    return True


def check_result(result, source: str) -> str:
    """An ImageResult from predict: either faces with sane numbers, or a documented error naming the source."""
    if result.source != source:
        raise Violation(f"result source {result.source!r} != {source!r}")
    if result.error is not None:
        if result.error_type not in DOCUMENTED_IMAGE_ERRORS:
            raise Violation(f"undocumented error_type {result.error_type}: {result.error}")
        if not result.error.startswith(f"{source}: "):
            raise Violation(f"error does not name the source {source!r}: {result.error}")
        if result.faces:
            raise Violation("a failed image also has faces")
        return result.error_type
    for f in result.faces:
        probs = [f.gender_probability, *f.age_group_probs.values()]
        if not all(math.isfinite(p) and -1e-6 <= p <= 1 + 1e-6 for p in probs):
            raise Violation(f"probability out of range: {probs}")
        if not (math.isfinite(f.age) and math.isfinite(f.age_std) and -1 <= f.age <= 130):
            raise Violation(f"age out of range: {f.age} +- {f.age_std}")
        if abs(sum(f.age_group_probs.values()) - 1.0) > 1e-3:
            raise Violation("age-group probabilities do not sum to 1")
    return "ok"


def materialise(kind: str, value, tmp_dir: Path, n: int):
    """The object passed to the SDK for a case: mutated_file cases are written to a file."""
    if kind == "mutated_file":
        path = tmp_dir / f"case_{n % 8}.img"
        path.write_bytes(value)
        return str(path) if n % 2 else path
    return value


def run_case(kind, value, colour_order, predictor, references, good_paths, tmp_dir: Path, n: int) -> tuple[str, str]:
    """One fuzz case through load_image and through predict() between two good images.
    Returns (load outcome, predict outcome); raises Violation on any contract breach."""
    item = materialise(kind, value, tmp_dir, n)
    load_outcome = check_load(item, colour_order, predictor.max_pixels, index=1)
    g0, g1 = good_paths[n % len(good_paths)], good_paths[(n + 7) % len(good_paths)]
    try:
        results = predictor.predict([str(g0), item, str(g1)], colour_order=colour_order)
    except Exception as exc:
        raise Violation(f"predict raised {type(exc).__name__}: {exc}") from exc
    if len(results) != 3:
        raise Violation(f"predict returned {len(results)} results for 3 images")
    for good, res in ((g0, results[0]), (g1, results[2])):
        if res.error is not None or not faces_close(res.faces, references[str(good)]):
            raise Violation(f"the good image {good.name} beside the case changed its result: {res}")
    outcome = check_result(results[1], describe_source(item, 1))
    if (outcome == "ok") != (load_outcome == "ok"):
        raise Violation(f"load_image said {load_outcome} but predict said {outcome}")
    return load_outcome, outcome
