"""The box rule's single resize, the face slots and the per-batch layout (preprocess.py)."""
import cv2
import numpy as np
import pytest

from agegender_edge.detection.base import ChipCalibration, Detection
from agegender_edge.metadata import ModelMetadata
from agegender_edge.preprocess import (FaceBatch, InputBatch, chip_to_input, face_input, kept_region, write_face)

from .conftest import FACES_48


def _shipped_metadata(name: str) -> ModelMetadata:
    from agegender_edge.backends.onnxruntime import OnnxRuntimeRunner
    from agegender_edge.shipped import resolve_model
    with OnnxRuntimeRunner(resolve_model(name)) as runner:
        return runner.metadata


@pytest.fixture(scope="module")
def meta() -> ModelMetadata:
    """A model whose crop rule shrinks: the fast tier (112 -> centre 96)."""
    return _shipped_metadata("edge_resnet_aligned")


@pytest.fixture(scope="module")
def zoom_out_meta() -> ModelMetadata:
    """A model whose crop rule leaves a border: the default (resize to 140, input 150)."""
    return _shipped_metadata("dlib_resnet_aligned")


def test_a_crop_smaller_than_the_input_centres_the_chip_in_a_zero_border(zoom_out_meta, chip):
    """dlib_resnet_aligned frames a UTKFace-style chip like dlib's own chip: the chip resized to
    140 px sits in the 150 px input with a 5 px black border (kept region wider than the chip)."""
    m = zoom_out_meta
    assert (m.crop.resize_to, m.input.size) == (140, (150, 150))
    assert kept_region(0, 0, 140, 140, m) == (-5, -5, 150, 150)
    assert kept_region(0, 0, 200, 200, m) == (-7, -7, 214, 214)       # round(-5/140*200), round(145/140*200)
    x = chip_to_input(chip, m)[:, :, ::-1]                             # back to BGR
    assert x.shape == (150, 150, 3)
    assert not x[:4].any() and not x[-4:].any() and not x[:, :4].any() and not x[:, -4:].any()
    inner = cv2.resize(chip, (140, 140), interpolation=cv2.INTER_AREA)
    assert np.abs(x[8:-8, 8:-8].astype(int) - inner[3:-3, 3:-3].astype(int)).mean() < 3


@pytest.fixture(scope="module")
def chip() -> np.ndarray:
    return cv2.imread(str(sorted(FACES_48.glob("*.jpg"))[0]))


def test_kept_region_is_what_resize_then_centre_crop_keeps(meta):
    assert (meta.crop.resize_to, meta.input.size) == (112, (96, 96))
    assert kept_region(0, 0, 112, 112, meta) == (8, 8, 96, 96)
    assert kept_region(0, 0, 200, 200, meta) == (14, 14, 172, 172)      # round(8/112*200), round(104/112*200)
    assert kept_region(100, 50, 224, 224, meta) == (116, 66, 192, 192)


def test_a_training_size_chip_gives_exactly_the_old_two_step_input(meta, chip):
    c112 = cv2.resize(chip, (112, 112), interpolation=cv2.INTER_AREA)
    old = c112[8:104, 8:104][:, :, ::-1]            # resize (none needed) + centre crop, RGB
    assert np.array_equal(chip_to_input(c112, meta), old)


def test_one_resize_of_the_kept_region(meta, chip):
    want = cv2.resize(chip[14:186, 14:186], (96, 96), interpolation=cv2.INTER_AREA)[:, :, ::-1]
    assert np.array_equal(chip_to_input(chip, meta), want)
    old = cv2.resize(chip, (112, 112), interpolation=cv2.INTER_AREA)[8:104, 8:104][:, :, ::-1]
    assert np.abs(want.astype(int) - old).mean() < 3       # the same picture, resampled once


def test_write_face_fills_the_slot_in_place_and_pads_outside_the_image(meta, chip):
    slots = np.full((2, 96, 96, 3), 7, np.uint8)
    crop, aligned = write_face(chip, Detection(0, 0, 200, 200, 1.0), ChipCalibration(1.0), meta, slots[0])
    assert crop == (0.0, 0.0, 200.0, 200.0) and not aligned
    assert np.array_equal(slots[0], chip_to_input(chip, meta)[:, :, ::-1])   # BGR in the slot
    assert (slots[1] == 7).all()                                             # neighbour untouched
    # a box hanging off the top-left corner: zero padding keeps the face at its scale
    crop, _ = write_face(chip, Detection(-100, -100, 200, 200, 1.0), ChipCalibration(1.0), meta, slots[1])
    assert crop == (-100.0, -100.0, 200.0, 200.0)
    assert (slots[1][:40, :40] == 0).all() and slots[1][70:, 70:].any()
    face, crop2, _ = face_input(chip, Detection(0, 0, 200, 200, 1.0), ChipCalibration(1.0), meta)
    assert np.array_equal(face, slots[0][:, :, ::-1]) and crop2 == (0.0, 0.0, 200.0, 200.0)


def test_face_batch_equals_the_per_face_layout(meta, chip):
    faces = [cv2.resize(chip, (96, 96)), cv2.resize(chip[::-1], (96, 96)), np.zeros((96, 96, 3), np.uint8)]
    fb, ib = FaceBatch(meta, 4), InputBatch(meta, 4)
    for f in faces:
        fb.add(f)
        ib.add(f[:, :, ::-1] if meta.input.colour_order == "RGB" else f)
    assert fb.count == 3 and not fb.full
    x = fb.network_input()
    assert x.dtype == np.float32 and x.shape == (3, 3, 96, 96)
    assert np.array_equal(x, ib.filled)
    fb.clear()
    assert fb.count == 0
