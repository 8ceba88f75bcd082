import cv2
import numpy as np
import pytest

from agegender_edge.detection import ChipCalibration, Detection, create_detector
from agegender_edge.detection.haar import HaarDetector
from agegender_edge.detection.whole_image import WholeImage
from agegender_edge.detection.yunet import SHIPPED_YUNET, YUNET_ENV, YuNetDetector
from agegender_edge.errors import ModelError

from ..conftest import FIXTURES, YUNET


def test_chip_calibration_geometry():
    cal = ChipCalibration(scale=1.2, dx=0.0, dy=0.1)
    cx, cy, side = cal.chip(Detection(10, 20, 100, 100, 1.0))
    assert (cx, cy, side) == pytest.approx((60, 80, 120))


def test_factory_specs(monkeypatch):
    assert isinstance(create_detector(None), WholeImage)
    assert isinstance(create_detector("haar"), HaarDetector)
    assert isinstance(create_detector(f"yunet:{YUNET}"), YuNetDetector)
    monkeypatch.delenv(YUNET_ENV, raising=False)
    auto = create_detector("auto")   # the YuNet file shipped inside the package
    assert isinstance(auto, YuNetDetector) and auto.path == SHIPPED_YUNET and SHIPPED_YUNET.is_file()
    monkeypatch.setenv(YUNET_ENV, str(YUNET))
    auto = create_detector("auto")
    assert isinstance(auto, YuNetDetector) and auto.path == YUNET
    with pytest.raises(ValueError, match="unknown detector"):
        create_detector("mtcnn")


def test_yunet_errors(tmp_path, monkeypatch):
    monkeypatch.setenv(YUNET_ENV, str(tmp_path / "missing.onnx"))
    with pytest.raises(ModelError, match="missing.onnx: YuNet model file not found"):
        YuNetDetector()
    monkeypatch.delenv(YUNET_ENV, raising=False)
    with pytest.raises(ModelError, match="not found"):
        YuNetDetector(str(tmp_path / "x.onnx"))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"<html>not a model</html>")
    with pytest.raises(ModelError, match="cannot load"):
        YuNetDetector(str(bad))


def test_downscaled_detection_maps_boxes_back():
    """A canvas upscaled 3x is detected on a <= 960 px copy; boxes come back in full-size pixels."""
    img = cv2.imread(str(FIXTURES / "multi_face_canvas_0.jpg"))
    big = cv2.resize(img, None, fx=3, fy=3, interpolation=cv2.INTER_LINEAR)
    det = YuNetDetector(str(YUNET), max_side=960)
    small_faces = sorted(det.detect(img), key=lambda d: (d.x, d.y))
    big_faces = sorted(det.detect(big), key=lambda d: (d.x, d.y))
    assert len(small_faces) == len(big_faces) == 6
    for s, b in zip(small_faces, big_faces):
        assert b.x == pytest.approx(3 * s.x, abs=6) and b.width == pytest.approx(3 * s.width, abs=8)
        assert b.landmarks[0][0] == pytest.approx(3 * s.landmarks[0][0], abs=8)


def test_small_and_full_frame_faces():
    chip = cv2.imread(str(sorted((FIXTURES / "utkface_48").glob("*.jpg"))[5]))
    tiny = np.full((480, 640, 3), 110, np.uint8)
    tiny[200:228, 300:328] = cv2.resize(chip, (28, 28), interpolation=cv2.INTER_AREA)   # ~24 px face
    yunet = YuNetDetector(str(YUNET))
    full = yunet.detect(cv2.resize(chip, (640, 640)))                                   # face fills the frame
    assert len(full) == 1 and full[0].width > 400
    found = yunet.detect(cv2.resize(tiny, None, fx=2, fy=2)) + yunet.detect(tiny)
    assert found, "a ~24 px face (or its 2x upscale) should be found"
