"""Predictor end to end on real images with the shipped model and real detectors."""
import math

import cv2
import numpy as np
import pytest

from agegender_edge import ImageResult, Predictor
from agegender_edge.results import BoundingBox

from .conftest import FIXTURES, YUNET


def _match(found, truth, min_iou=0.5):
    """Greedy IoU matching of found faces to ground-truth boxes."""
    matched = {}
    for j, t in enumerate(truth):
        tb = BoundingBox(t["x"], t["y"], t["w"], t["h"])
        best = max(((f.box.iou(tb), i) for i, f in enumerate(found) if i not in matched.values()), default=(0, None))
        if best[0] >= min_iou:
            matched[j] = best[1]
    return matched


@pytest.mark.parametrize("detector, need", [("haar", 5), (f"yunet:{YUNET}", 6)])
def test_canvases_faces_found_and_labelled(shipped_model, canvases, detector, need):
    with Predictor(shipped_model, device="cpu", detector=detector) as p:
        results = p.predict([FIXTURES / c["image"] for c in canvases])
    for canvas, res in zip(canvases, results):
        assert res.ok, res.error
        matched = _match(res.faces, canvas["faces"])
        assert len(matched) >= need, (detector, canvas["image"], len(matched))
        for face in res.faces:
            assert face.gender in ("female", "male") and 0.5 <= face.gender_probability <= 1
            assert face.age_group in face.age_group_probs
            assert math.isclose(sum(face.age_group_probs.values()), 1.0, abs_tol=1e-4)
            lo, hi = face.age_interval_80
            assert 0 <= lo <= face.age <= hi <= 100


def test_batched_equals_one_by_one_and_batches_are_used(shipped_model, faces_48):
    paths = [r["path"] for r in faces_48]
    with Predictor(shipped_model, device="cpu", detector=None, batch_size=7) as p:
        batched = p.predict_faces(paths)
        assert p.inference_calls == math.ceil(48 / 7)  # all crops batched, never one call per face
        singles = [p.predict_faces(path) for path in paths[:10]]
    for b, s in zip(batched, singles):
        fb, fs = b.faces[0], s.faces[0]
        assert max(abs(fb.age_group_probs[k] - fs.age_group_probs[k]) for k in fb.age_group_probs) < 1e-5
        assert abs(fb.gender_probability - fs.gender_probability) < 1e-5 and fb.gender == fs.gender
        assert abs(fb.age - fs.age) < 1e-3


def test_faces_from_many_images_share_batches(shipped_model, canvases):
    images = [FIXTURES / c["image"] for c in canvases] * 3   # 6 images x 6 faces = 36 crops
    with Predictor(shipped_model, device="cpu", detector=f"yunet:{YUNET}", batch_size=16) as p:
        results = p.predict(images)
        n_faces = sum(len(r.faces) for r in results)
        assert n_faces == 36
        assert p.inference_calls == math.ceil(36 / 16)


def test_array_input_needs_and_honours_colour_order(predictor):
    bgr = cv2.imread(str(FIXTURES / "utkface_48" / "25_1_0_20170116232516457.jpg.chip.jpg"))
    if bgr is None:  # fixture names are data: fall back to any face
        bgr = cv2.imread(str(sorted((FIXTURES / "utkface_48").glob("*.jpg"))[0]))
    res = predictor.predict_faces(bgr)
    assert not res.ok and "colour_order" in res.error and res.error_type == "InvalidImageError"
    a = predictor.predict_faces(bgr, colour_order="BGR").faces[0]
    b = predictor.predict_faces(np.ascontiguousarray(bgr[:, :, ::-1]), colour_order="RGB").faces[0]
    c = predictor.predict_faces(cv2.imencode(".png", bgr)[1].tobytes()).faces[0]
    for other in (b, c):
        assert abs(a.gender_probability - other.gender_probability) < 1e-5 and abs(a.age - other.age) < 1e-3


def test_results_serialise(predictor):
    import json
    res = predictor.predict(FIXTURES / "multi_face_canvas_0.jpg")
    assert isinstance(res, ImageResult)
    d = json.loads(res.to_json())
    assert d["width"] == 960 and d["height"] == 640 and len(d["faces"]) == len(res.faces) >= 5
    face = d["faces"][0]
    for key in ("box", "crop_box", "detection_score", "age_group", "age_group_probs", "age", "age_std",
                "age_interval_80", "gender", "gender_probability"):
        assert key in face
