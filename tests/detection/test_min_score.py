"""The detection-score threshold (issue 21): Predictor(min_detection_score=...), its data-chosen
YuNet default (benchmarks/detection_threshold.py), and its interaction with the rotation search.
Real photos: scikit-image's photos without a person, and its astronaut (one face)."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

skimage_data = pytest.importorskip("skimage.data")

from agegender_edge import Predictor  # noqa: E402
from agegender_edge.detection import create_detector  # noqa: E402
from agegender_edge.detection.haar import HaarDetector  # noqa: E402
from agegender_edge.detection.yunet import CONFIDENT_UPRIGHT, DEFAULT_MIN_SCORE, YuNetDetector  # noqa: E402

NO_PEOPLE = ("chelsea", "cat", "coffee", "rocket", "coins", "horse", "clock", "retina", "hubble_deep_field",
             "immunohistochemistry")
RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "detection_threshold.json"


@pytest.fixture(scope="module")
def photos_without_people() -> list[np.ndarray]:
    return [getattr(skimage_data, n)() for n in NO_PEOPLE]


@pytest.fixture(scope="module")
def default_predictor(shipped_model):
    with Predictor() as p:
        yield p


def test_defaults_find_no_face_on_photos_without_people(default_predictor, photos_without_people):
    results = default_predictor.predict(photos_without_people, colour_order="RGB")
    assert all(r.ok for r in results)
    assert {n: len(r.faces) for n, r in zip(NO_PEOPLE, results)} == {n: 0 for n in NO_PEOPLE}
    # and as files the CLI would read: hubble's false face scores highest as a quality-90 JPEG
    hubble = cv2.cvtColor(photos_without_people[NO_PEOPLE.index("hubble_deep_field")], cv2.COLOR_RGB2BGR)
    encoded = [cv2.imencode(ext, hubble, params)[1].tobytes()
               for ext, params in ((".png", []), (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90]))]
    assert [len(r.faces) for r in default_predictor.predict(encoded)] == [0, 0]


def test_the_threshold_is_what_removes_the_false_faces(shipped_model, photos_without_people):
    """At OpenCV's 0.6 (the previous default) the same photos give false faces; every face a
    predictor reports scores at least its threshold."""
    with Predictor(min_detection_score=0.6) as p:
        results = p.predict(photos_without_people, colour_order="RGB")
    scores = [f.detection_score for r in results for f in r.faces]
    assert len(scores) >= 2 and min(scores) >= 0.6 and max(scores) < DEFAULT_MIN_SCORE
    assert p.detector.min_score == 0.6 and "min score 0.6" in p.detector.describe()


def test_a_real_face_is_kept(default_predictor):
    r = default_predictor.predict(skimage_data.astronaut(), colour_order="RGB")
    assert len(r.faces) == 1 and r.faces[0].detection_score >= DEFAULT_MIN_SCORE


def test_the_committed_curve_backs_the_default():
    d = json.loads(RESULTS.read_text())
    assert d["chosen_default"] == DEFAULT_MIN_SCORE
    assert d["highest_false_face_score"] < DEFAULT_MIN_SCORE <= d["lowest_subject_score"]
    at = {row["threshold"]: row for row in d["curve"]}
    chosen, before = at[DEFAULT_MIN_SCORE], at[d["previous_default"]]
    assert chosen["false_faces"] == chosen["false_faces_reencoded"] == 0 < before["false_faces"]
    assert chosen["lfw_found"] == before["lfw_found"] == d["n"]["lfw"]
    assert chosen["utkface_val_found"] == before["utkface_val_found"]


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "high"])
def test_bad_thresholds_are_refused(shipped_model, bad):
    with pytest.raises(ValueError, match="min_detection_score"):
        Predictor(min_detection_score=bad)


def test_detector_defaults_and_a_given_instance():
    assert create_detector("yunet").min_score == DEFAULT_MIN_SCORE
    assert create_detector("haar").min_score == 0.0            # Haar's squashed weights: no default cut
    assert create_detector("haar", min_score=0.7).min_score == 0.7
    assert YuNetDetector(score_threshold=0.5).min_score == 0.5  # YuNet's own name for the same setting
    with pytest.raises(ValueError, match="FaceDetector instance"):
        Predictor(detector=HaarDetector(), min_detection_score=0.5)


def test_rotation_search_counts_only_faces_that_are_kept():
    """A threshold above CONFIDENT_UPRIGHT: an upright face that would be dropped does not stop
    the search of the turned copies (else the image ends with no face and no search)."""

    class Counting(YuNetDetector):
        calls = 0

        def _detect_upright(self, bgr):
            Counting.calls += 1
            return super()._detect_upright(bgr)

    bgr = np.ascontiguousarray(skimage_data.astronaut()[..., ::-1])
    score = YuNetDetector(max_side=0).detect(bgr)[0].score
    assert score >= CONFIDENT_UPRIGHT
    Counting(max_side=0).detect(bgr)
    assert Counting.calls == 1                                   # confident and kept: no search
    Counting.calls = 0
    high = Counting(max_side=0, min_score=min(1.0, score + 0.01))
    assert high.detect(bgr) == [] and Counting.calls == 3        # not kept: the turned copies are searched
