"""EXIF orientation: a photo stored rotated or mirrored, with the tag that makes it upright, gives
the same faces as the upright photo, in the upright image's coordinates.

The photo is scikit-image's public-domain astronaut, cropped to 448x384 (not square, so a
swapped width/height shows). Its pixels are transformed with Pillow so that applying each of the
8 EXIF orientations gives the upright photo back, and the tag is written with Pillow.

JPEG is lossy, and a rotated or mirrored image is a different JPEG: at quality 100 with 4:4:4
chroma the re-oriented pixels of the 8 files differ by up to 3 levels (mean 0.04-0.17), enough
to move the age by 0.15 years (measured). The exact check therefore uses the photo resampled into
constant 8x8 blocks aligned with JPEG's DCT grid (896x768): each block is then only a DC
coefficient, which quantisation table 1 (quality 100) keeps exactly, so all 8 files decode to
bit-identical upright pixels (measured: max difference 0). The natural photo is checked too, with
tolerances above what was measured.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from agegender_edge import Predictor
from agegender_edge.imageio import DEFAULT_MAX_PIXELS, exif_orientation, load_image

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (the [test] extra) provides the photo")

T = Image.Transpose
# the transform that makes a stored image upright (as ImageOps.exif_transpose) ...
UPRIGHT = {2: T.FLIP_LEFT_RIGHT, 3: T.ROTATE_180, 4: T.FLIP_TOP_BOTTOM, 5: T.TRANSPOSE, 6: T.ROTATE_270,
           7: T.TRANSVERSE, 8: T.ROTATE_90}
# ... and the one that produces the stored pixels from the upright photo (6 and 8 swap)
STORED = {**UPRIGHT, 6: T.ROTATE_90, 8: T.ROTATE_270}
ORIENTATIONS = range(1, 9)


@pytest.fixture(scope="module")
def upright() -> np.ndarray:
    return np.ascontiguousarray(skimage_data.astronaut()[0:384, 32:480])   # RGB, 448 wide, 384 high


def encode(upright_rgb: np.ndarray, orientation: int, fmt: str, **options) -> bytes:
    im = Image.fromarray(upright_rgb)
    if orientation != 1:
        im = im.transpose(STORED[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    im.save(out, format=fmt, exif=exif.tobytes(), **options)
    return out.getvalue()


JPEG_LOSSLESS_ROUTE = dict(quality=100, subsampling=0)   # 4:4:4


@pytest.fixture(scope="module")
def jpegs(upright) -> dict[int, bytes]:
    return {o: encode(upright, o, "JPEG", **JPEG_LOSSLESS_ROUTE) for o in ORIENTATIONS}


def test_test_files_carry_the_tag_and_pillow_makes_them_upright(upright, jpegs):
    for o, data in jpegs.items():
        assert exif_orientation(data) == o
        pil = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
        assert pil.shape == upright.shape, o
        if o in (5, 6, 7, 8):   # width and height are swapped in the stored pixels
            assert Image.open(io.BytesIO(data)).size == (384, 448)


@pytest.mark.parametrize("fmt,options", [("JPEG", JPEG_LOSSLESS_ROUTE), ("JPEG", dict(quality=90)),
                                         ("PNG", {}), ("WEBP", dict(lossless=True))])
def test_pixels_match_pillows_exif_transpose(upright, fmt, options):
    for o in ORIENTATIONS:
        data = encode(upright, o, fmt, **options)
        ours = load_image(data, None, DEFAULT_MAX_PIXELS).bgr[:, :, ::-1]
        ref = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
        assert ours.shape == upright.shape, (fmt, o)
        assert np.array_equal(ours, ref), (fmt, o)
        if fmt != "JPEG":   # lossless: exactly the upright photo
            assert np.array_equal(ours, upright), (fmt, o)


def test_tiff_orientation_is_applied_once(upright):
    """OpenCV's libtiff path applies the TIFF orientation tag itself; the loader must not apply it
    a second time."""
    for o in ORIENTATIONS:
        data = encode(upright, o, "TIFF")
        assert np.array_equal(load_image(data, None, DEFAULT_MAX_PIXELS).bgr[:, :, ::-1], upright), o


def test_sixteen_bit_png_with_orientation(upright):
    """16-bit files keep working (IMREAD_UNCHANGED) and are re-oriented too."""
    import cv2
    stored = np.asarray(Image.fromarray(upright).transpose(STORED[6]))
    png16 = cv2.imencode(".png", stored[:, :, ::-1].astype(np.uint16) * 257)[1].tobytes()
    # put an eXIf chunk (orientation 6) before IDAT: PNG chunk = length, type, data, crc
    import struct
    import zlib
    exif = Image.Exif()
    exif[0x0112] = 6
    payload = exif.tobytes()[6:] if exif.tobytes().startswith(b"Exif\x00\x00") else exif.tobytes()
    chunk = struct.pack(">I", len(payload)) + b"eXIf" + payload + struct.pack(">I", zlib.crc32(b"eXIf" + payload))
    idat = png16.find(b"IDAT") - 4
    data = png16[:idat] + chunk + png16[idat:]
    assert exif_orientation(data) == 6
    assert np.array_equal(load_image(data, None, DEFAULT_MAX_PIXELS).bgr[:, :, ::-1], upright)


def _faces(files: list[bytes], size: tuple[int, int]):
    with Predictor() as predictor:
        results = predictor.predict(files)
    faces = []
    for o, r in zip(ORIENTATIONS, results):
        assert r.error is None, (o, r.error)
        assert (r.width, r.height) == size, o
        assert len(r.faces) == 1, (o, len(r.faces))
        faces.append(r.faces[0])
    return faces


def test_all_eight_orientations_give_the_same_face(upright):
    import cv2
    blocks = cv2.resize(upright, (112, 96), interpolation=cv2.INTER_AREA)
    photo = np.repeat(np.repeat(blocks, 8, axis=0), 8, axis=1)          # 896x768, constant 8x8 blocks
    files = [encode(photo, o, "JPEG", **JPEG_LOSSLESS_ROUTE) for o in ORIENTATIONS]
    faces = _faces(files, (896, 768))
    ref = faces[0]
    for o, f in zip(ORIENTATIONS, faces):
        assert np.allclose(f.box.as_xyxy(), ref.box.as_xyxy(), atol=1e-3), (o, f.box, ref.box)
        assert abs(f.age - ref.age) < 1e-3, (o, f.age, ref.age)
        assert f.gender == ref.gender and abs(f.gender_probability - ref.gender_probability) < 1e-3, o
        assert all(abs(f.age_group_probs[k] - ref.age_group_probs[k]) < 1e-3 for k in ref.age_group_probs), o


def test_natural_photo_in_all_orientations(jpegs):
    """The plain photo: the same face up to JPEG's orientation-dependent rounding (measured:
    box corners within 0.03 px; the landmark-aligned default moves the
    age by up to ~0.7 y and the gender probability by ~1e-2 because the warp follows sub-pixel landmark shifts)."""
    faces = _faces([jpegs[o] for o in ORIENTATIONS], (448, 384))
    ref = faces[0]
    for o, f in zip(ORIENTATIONS, faces):
        assert f.box.iou(ref.box) > 0.99, (o, f.box, ref.box)
        assert abs(f.age - ref.age) < 1.0, (o, f.age, ref.age)
        assert f.gender == ref.gender and abs(f.gender_probability - ref.gender_probability) < 0.03, (o, f.gender_probability, ref.gender_probability)
