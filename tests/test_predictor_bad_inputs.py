"""Every bad input gets a correct result (convertible images) or a clear per-image error, and
the other images of the same call still get their results."""
import cv2
import numpy as np
import pytest

from agegender_edge import Predictor

from .conftest import FACES_48, FIXTURES

GOOD = sorted(FACES_48.glob("*.jpg"))[0]
CANVAS = FIXTURES / "multi_face_canvas_0.jpg"


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    good = GOOD.read_bytes()
    bgr = cv2.imread(str(GOOD))
    (d / "empty.jpg").write_bytes(b"")
    (d / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (d / "text.jpg").write_text("this is not an image\n")
    cv2.imwrite(str(d / "gray.png"), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(d / "rgba.png"), cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(d / "16bit.png"), bgr.astype(np.uint16) * 257)
    cv2.imwrite(str(d / "one_pixel.png"), bgr[:1, :1])
    cv2.imwrite(str(d / "big.png"), np.zeros((1200, 1200, 3), np.uint8))
    cv2.imwrite(str(d / "no_face.jpg"), np.full((480, 640, 3), 127, np.uint8))
    return d


def test_bad_inputs_in_one_batch(shipped_model, bad_files):
    d = bad_files
    items = [CANVAS, d / "missing.jpg", d / "empty.jpg", d / "truncated.jpg", d / "text.jpg", d / "gray.png",
             d / "rgba.png", d / "16bit.png", d / "one_pixel.png", d / "big.png", d / "no_face.jpg", CANVAS]
    with Predictor(shipped_model, device="cpu", detector="haar", max_pixels=1_000_000) as p:
        res = {r.source.rsplit("/", 1)[-1]: r for r in p.predict(items)}
        whole = {r.source.rsplit("/", 1)[-1]: r for r in p.predict_faces([GOOD, d / "gray.png", d / "rgba.png",
                                                                          d / "16bit.png", d / "one_pixel.png"])}
    assert res["missing.jpg"].error_type == "InvalidImageError" and "no such file" in res["missing.jpg"].error
    assert "empty (0 bytes)" in res["empty.jpg"].error
    for name, part in (("truncated.jpg", "truncated"), ("text.jpg", "not a supported image format")):
        assert res[name].error_type == "InvalidImageError" and part in res[name].error
        assert name in res[name].error  # the message names the file
    assert res["big.png"].error_type == "ImageTooLargeError" and "1200x1200" in res["big.png"].error
    assert res["no_face.jpg"].ok and res["no_face.jpg"].faces == []
    assert res["one_pixel.png"].ok and res["one_pixel.png"].faces == []  # decodes; no face to find
    assert res[CANVAS.name].ok and len(res[CANVAS.name].faces) >= 5
    # gray / RGBA / 16-bit are converted: same face, (nearly) the same answer as the colour original
    ref = whole[GOOD.name].faces[0]
    for name in ("rgba.png", "16bit.png"):
        f = whole[name].faces[0]
        assert f.gender == ref.gender and abs(f.age - ref.age) < 0.5, name
    assert whole["gray.png"].ok and whole["gray.png"].faces[0].gender in ("female", "male")
    assert whole["one_pixel.png"].ok and len(whole["one_pixel.png"].faces) == 1


def test_bad_arrays(predictor):
    res = predictor.predict([np.zeros((10, 10, 3), np.float32), np.zeros((5, 5, 5), np.uint8),
                             np.zeros((0, 5, 3), np.uint8), "not/a/file.png"], colour_order="BGR")
    assert "dtype float32 is not supported" in res[0].error
    assert "(5, 5, 5)" in res[1].error
    assert "empty" in res[2].error
    assert all(r.error_type == "InvalidImageError" for r in res)


def test_missing_or_mismatched_model(tmp_path):
    from agegender_edge.errors import ModelError
    with pytest.raises(ModelError, match="model file not found"):
        Predictor(tmp_path / "none.onnx", device="cpu")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"garbage" * 10)
    with pytest.raises(ModelError, match="cannot load this model"):
        Predictor(bad, device="cpu")
