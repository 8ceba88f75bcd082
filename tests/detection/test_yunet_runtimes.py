"""YuNet on ONNX Runtime (the default) against cv2.FaceDetectorYN on the same file: the numpy
post-processing (decode_yunet) must reproduce OpenCV's faces -- count, order, boxes, landmarks,
scores -- on real photos of several sizes (multiples of 32 and not)."""
import glob

import cv2
import numpy as np
import pytest

from agegender_edge.detection.yunet import YuNetDetector
from agegender_edge.errors import ModelError

from ..conftest import FIXTURES, SHARED_DATA, YUNET


def _photos() -> list[np.ndarray]:
    canvas = cv2.imread(str(FIXTURES / "multi_face_canvas_0.jpg"))
    lfw = [cv2.imread(f) for f in sorted(glob.glob(str(SHARED_DATA / "lfw" / "images" / "*.jpg")))[:40]]
    chips = [cv2.imread(f) for f in sorted(glob.glob(str(FIXTURES / "utkface_48" / "*.jpg")))[:8]]
    odd = cv2.resize(canvas, (623, 415))                       # sides not multiples of 32
    return [canvas, cv2.imread(str(FIXTURES / "multi_face_canvas_1.jpg")), odd, *lfw, *chips]


def _rows(faces) -> np.ndarray:
    return np.array([[d.x, d.y, d.width, d.height, d.score, *np.ravel(d.landmarks)] for d in faces]).reshape(-1, 15)


def test_onnxruntime_matches_opencv_face_detector_yn():
    ort_det = YuNetDetector(str(YUNET), max_side=0)
    cv_det = YuNetDetector(str(YUNET), max_side=0, runtime="opencv")
    assert ort_det.runtime == "onnxruntime" and YuNetDetector(str(YUNET)).runtime == "onnxruntime"
    total = 0
    for img in _photos():
        a, b = _rows(ort_det.detect(img)), _rows(cv_det.detect(img))
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=2e-3)
        total += len(a)
    assert total >= 12 + 40            # two 6-face canvases, one subject or more per LFW photo


def test_runtime_errors(tmp_path, tiny_onnx):
    with pytest.raises(ValueError, match="unknown YuNet runtime 'tflite'"):
        YuNetDetector(str(YUNET), runtime="tflite")
    with pytest.raises(ModelError, match="not a YuNet model"):
        YuNetDetector(str(tiny_onnx))                         # a valid ONNX file, not YuNet
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x01garbage")
    for runtime in ("onnxruntime", "opencv"):
        with pytest.raises(ModelError, match="cannot load this YuNet model"):
            YuNetDetector(str(bad), runtime=runtime)


def test_blank_and_tiny_images_give_no_faces():
    det = YuNetDetector(str(YUNET), max_side=0)
    assert det.detect(np.zeros((480, 640, 3), np.uint8)) == []
    assert det.detect(np.full((7, 5, 3), 128, np.uint8)) == []
