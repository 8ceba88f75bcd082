"""Five-point alignment (agegender_edge/align.py) and the per-face rule choice (preprocess.face_input)."""
import math

import cv2
import numpy as np
import pytest

from agegender_edge.align import (align_landmarks, describe_crop, similarity_transform, template_pixels,
                                  warp_face)
from agegender_edge.detection.base import ChipCalibration, Detection
from agegender_edge.labels import AGE_GROUP_LABELS
from agegender_edge.metadata import AlignSpec, CropSpec, InputSpec, ModelMetadata
from agegender_edge.preprocess import face_input
from agegender_edge.train.data.aligned import alignment_spec

from .conftest import FACES_48

SPEC = alignment_spec(InputSpec(), CropSpec())
META = ModelMetadata(name="m", architecture="edge_resnet", age_groups=AGE_GROUP_LABELS,
                     age_bins=tuple(float(i) for i in range(101)), align=SPEC)
SIZE = META.input.size


def _similarity(scale: float, degrees: float, tx: float, ty: float) -> np.ndarray:
    t = math.radians(degrees)
    return np.array([[scale * math.cos(t), -scale * math.sin(t), tx], [scale * math.sin(t), scale * math.cos(t), ty]])


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


@pytest.mark.parametrize("scale,degrees,tx,ty", [(1.0, 0.0, 0.0, 0.0), (0.37, 23.0, -40.5, 12.25),
                                                 (2.5, -90.0, 300.0, -7.0), (0.05, 179.0, 1.0, 2.0)])
def test_transform_recovers_a_known_similarity_exactly(scale, degrees, tx, ty):
    src = np.array([[38.2, 51.0], [61.9, 50.3], [50.0, 66.1], [40.7, 80.2], [59.4, 79.8]])
    m = _similarity(scale, degrees, tx, ty)
    np.testing.assert_allclose(similarity_transform(src, _apply(m, src)), m, rtol=1e-10, atol=1e-9)


def test_transform_is_the_least_squares_fit_under_noise():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    m = _similarity(0.8, 12.0, 5.0, -3.0)
    dst = _apply(m, src) + rng.normal(0, 0.5, (5, 2))
    got = similarity_transform(src, dst)
    err = ((_apply(got, src) - dst) ** 2).sum()
    for delta in (1e-3, -1e-3):   # any nearby similarity fits worse
        for k in range(4):
            p = np.array([0.8, 12.0, 5.0, -3.0])
            p[k] += delta * (1 if k != 1 else 100)
            assert ((_apply(_similarity(*p), src) - dst) ** 2).sum() >= err - 1e-9


@pytest.mark.parametrize("points", [np.full((5, 2), 7.0), np.array([[1, 2]] * 4 + [[np.nan, 3]], float),
                                    np.array([[np.inf, 0]] * 5, float)])
def test_degenerate_or_non_finite_landmarks_give_no_transform(points):
    assert similarity_transform(points, template_pixels(SPEC, SIZE)) is None
    assert align_landmarks(np.zeros((50, 50, 3), np.uint8), points, SPEC, SIZE) is None


def test_aligned_landmarks_land_on_the_template():
    lm = np.array([[120.0, 140.0], [180.0, 132.0], [152.0, 170.0], [128.0, 205.0], [178.0, 199.0]])
    img = cv2.imread(str(sorted(FACES_48.glob("*.jpg"))[0]))
    img = cv2.resize(img, (400, 400))
    face, crop = align_landmarks(img, lm, SPEC, SIZE)
    assert face.shape == (96, 96, 3) and face.dtype == np.uint8
    tpl = template_pixels(SPEC, SIZE)
    fit = _apply(crop.matrix, lm)
    assert np.abs(fit - tpl).max() < 6.0      # a least-squares fit of a non-template face
    # describe_crop: the output centre maps back to crop.centre, the width to crop.side
    inv = cv2.invertAffineTransform(crop.matrix)
    np.testing.assert_allclose(inv @ [48, 48, 1], crop.centre, atol=1e-9)
    assert crop.side == pytest.approx(96 / crop.scale)


def _smooth_photo(side: int) -> np.ndarray:
    img = cv2.imread(str(sorted(FACES_48.glob("*.jpg"))[5]))
    return cv2.resize(img, (side, side), interpolation=cv2.INTER_CUBIC)


@pytest.mark.parametrize("side", [230, 300])   # warp scales ~0.42 (n = 2) and ~0.32 (n = 3)
def test_antialias_matches_a_plain_warp_for_mild_downscale(side):
    img = _smooth_photo(side)
    m = similarity_transform(template_pixels(SPEC, (200, 200)) * side / 200.0, template_pixels(SPEC, SIZE))
    assert 0.25 < math.hypot(m[0, 0], m[1, 0]) < 0.5
    anti = warp_face(img, m, SIZE, SPEC)
    plain = warp_face(img, m, SIZE, AlignSpec(**{**SPEC.__dict__, "antialias": False}))
    diff = np.abs(anti.astype(np.int16) - plain.astype(np.int16))
    assert diff.mean() < 3.0 and np.percentile(diff, 99) < 20
    # the same geometry: the reduced transform maps to the same place (no half-pixel shift)
    shift = cv2.phaseCorrelate(cv2.cvtColor(anti, cv2.COLOR_BGR2GRAY).astype(np.float64),
                               cv2.cvtColor(plain, cv2.COLOR_BGR2GRAY).astype(np.float64))[0]
    assert abs(shift[0]) < 0.25 and abs(shift[1]) < 0.25


def test_antialias_removes_aliasing_of_fine_detail():
    # 1-px stripes shrunk 6x: box averaging gives flat grey, point sampling gives stripes
    img = np.zeros((600, 600, 3), np.uint8)
    img[:, ::2] = 255
    m = _similarity(96 / 576, 0.0, -12 * 96 / 576, -12 * 96 / 576)
    anti = warp_face(img, m, SIZE, SPEC)
    plain = warp_face(img, m, SIZE, AlignSpec(**{**SPEC.__dict__, "antialias": False}))
    assert anti.std() < 10 and abs(anti.mean() - 127.5) < 10
    assert np.abs(plain.astype(np.float64) - 127.5).mean() > 40     # point sampling: wrong grey or beats


def test_face_at_the_border_replicates_edge_pixels():
    img = _smooth_photo(200)
    lm = template_pixels(SPEC, (200, 200)) - [120, 0]     # the face's left half is off the image
    assert (lm[:, 0] < 0).any()
    face, crop = align_landmarks(img, lm, SPEC, SIZE)
    assert face.shape == (96, 96, 3)
    assert crop.centre[0] - crop.side / 2 < 0             # the footprint leaves the image
    # replicate border: the columns left of the image repeat the image's first column
    x_edge = int(np.floor(_apply(crop.matrix, np.array([[0.0, 100.0]]))[0, 0])) - 1
    assert x_edge > 2
    col = face[30:70, : x_edge]
    assert np.abs(col.astype(int) - col[:, :1].astype(int)).max() <= 2
    constant = AlignSpec(**{**SPEC.__dict__, "border": "constant"})
    assert (align_landmarks(img, lm, constant, SIZE)[0][30:70, : x_edge] == 0).all()


def test_face_input_chooses_alignment_or_the_box_rule():
    img = _smooth_photo(200)
    lm = tuple(map(tuple, template_pixels(SPEC, (200, 200))))
    det = Detection(40.0, 40.0, 120.0, 120.0, 0.9, lm)
    calib = ChipCalibration(scale=1.1)
    face, crop, aligned = face_input(img, det, calib, META)
    assert aligned and face.shape == (96, 96, 3)
    # RGB model: the aligned face is the BGR warp reversed
    np.testing.assert_array_equal(face, align_landmarks(img, lm, SPEC, SIZE)[0][:, :, ::-1])
    for landmarks in (None, ((5.0, 5.0),) * 5, ((float("nan"), 1.0),) * 5):
        face, crop, aligned = face_input(img, Detection(40.0, 40.0, 120.0, 120.0, 0.9, landmarks), calib, META)
        assert not aligned and face.shape == (96, 96, 3)
        assert all(float(v).is_integer() for v in crop)       # the integer chip of the box rule
    # a model without align metadata uses the box rule even with landmarks
    assert not face_input(img, det, calib, META.replace(align=None))[2]


def test_describe_crop_of_a_pure_scale():
    c = describe_crop(_similarity(0.5, 0.0, 0.0, 0.0), SIZE)
    assert c.scale == pytest.approx(0.5) and c.side == pytest.approx(192) and c.centre == pytest.approx((96, 96))
