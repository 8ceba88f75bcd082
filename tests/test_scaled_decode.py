"""Reduced-scale JPEG decoding for detection (scaled_decode.py) through the real Predictor: the
same faces as a full decode, boxes in full-resolution upright pixels, EXIF orientation applied,
bad files refused as before."""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest

from agegender_edge import Predictor
from agegender_edge.scaled_decode import ScaledImage, load_for_detection, reduction_for

from .conftest import FIXTURES, YUNET


def test_reduction_keeps_at_least_the_detection_size():
    assert reduction_for(4000, 3000, 960) == 4          # 1000 x 750
    assert reduction_for(3840, 2560, 960) == 4          # exactly 960
    assert reduction_for(1919, 1080, 960) == 2          # ceil(1919 / 2) = 960, as libjpeg rounds
    assert reduction_for(1917, 1080, 960) == 1          # 2x would give 959 < 960
    assert reduction_for(8000, 6000, 960) == 8
    assert reduction_for(640, 480, 960) == 1
    assert reduction_for(4000, 3000, 0) == 1            # no detection downscale: never reduce


@pytest.fixture(scope="module")
def big_photo() -> bytes:
    """A 3840x2560 JPEG of the 6-face fixture canvas (4x), EXIF orientation 6 (stored sideways)."""
    from PIL import Image
    canvas = cv2.imread(str(FIXTURES / "multi_face_canvas_0.jpg"))
    big = cv2.resize(canvas, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    stored = np.ascontiguousarray(np.rot90(big, 1))     # rotated 90 deg CCW: orientation 6 undoes it
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    Image.fromarray(stored[:, :, ::-1]).save(buf, "JPEG", quality=90, exif=exif.tobytes())
    return buf.getvalue()


def test_reduced_decode_is_upright_and_small(big_photo):
    img = load_for_detection(big_photo, None, 10 ** 8, 0, None, max_side=960)
    assert isinstance(img, ScaledImage) and img.factor == 4
    assert img.full_size == (3840, 2560)
    assert img.small.shape[:2] == (640, 960)           # upright: landscape again
    full = img.full()
    assert full.shape[:2] == (2560, 3840)
    small_again = cv2.resize(full, (960, 640), interpolation=cv2.INTER_AREA)
    assert np.abs(small_again.astype(int) - img.small).mean() < 4   # same picture, same orientation


def test_same_faces_as_full_decode_in_full_resolution_pixels(shipped_model, big_photo):
    kw = dict(device="cpu", detector=f"yunet:{YUNET}")
    with Predictor(shipped_model, **kw) as reduced, Predictor(shipped_model, reduced_decode=False, **kw) as full:
        a, b = reduced.predict(big_photo), full.predict(big_photo)
    assert a.ok and b.ok and (a.width, a.height) == (b.width, b.height) == (3840, 2560)
    assert len(a.faces) == len(b.faces) >= 5
    for fa in a.faces:
        fb = max(b.faces, key=lambda f: f.box.iou(fa.box))
        assert fa.box.iou(fb.box) > 0.95 and fa.crop_box.iou(fb.crop_box) > 0.95
        assert fa.gender == fb.gender and abs(fa.gender_probability - fb.gender_probability) < 0.05


def test_bad_large_jpegs_are_refused_as_before(shipped_model, big_photo):
    with Predictor(shipped_model, device="cpu", detector=f"yunet:{YUNET}") as p:
        cut = p.predict(big_photo[: len(big_photo) // 2])
        assert cut.error_type == "InvalidImageError" and "truncated" in cut.error
        tight = Predictor(shipped_model, device="cpu", detector=None, max_pixels=1_000_000)
    with tight:
        assert tight.predict(big_photo).error_type == "ImageTooLargeError"
    with Predictor(shipped_model, device="cpu", detector=f"yunet:{YUNET}", max_pixels=1_000_000) as small_limit:
        assert small_limit.predict(big_photo).error_type == "ImageTooLargeError"
