"""Track smoothing: weighted averages of probabilities and quantiles (agegender_edge/video/smoothing.py)."""
from __future__ import annotations

import pytest

from agegender_edge.results import BoundingBox, FaceResult
from agegender_edge.video.smoothing import NO_SMOOTHING, Smoothing, TrackSmoother

GROUPS = ("0-2", "4-6", "8-12", "15-20", "25-32", "38-43", "48-53", "60-100")


def face(p_female, groups, age, lo, hi, score=1.0):
    gender = "female" if p_female >= 0.5 else "male"
    probs = dict(zip(GROUPS, groups))
    best = max(probs, key=probs.get)
    return FaceResult(box=BoundingBox(0, 0, 10, 10), crop_box=BoundingBox(0, 0, 10, 10), detection_score=score,
                      age_group=best, age_group_probs=probs, age=age, age_std=3.0, age_interval_80=(lo, hi),
                      gender=gender, gender_probability=max(p_female, 1 - p_female))


def one_hot(i, p=0.7):
    return [p if k == i else (1 - p) / 7 for k in range(8)]


def smoother(rule="argmax", **kw):
    return TrackSmoother(("female", "male"), GROUPS, rule, Smoothing(**kw))


def test_probabilities_are_averaged_not_labels():
    """Two confident 'male' frames and one very confident 'female' one: a majority vote of the
    labels says male, the averaged probability says female."""
    s = smoother()
    s.add(0, face(0.45, one_hot(4), 30, 25, 36))
    s.add(1, face(0.45, one_hot(4), 30, 25, 36))
    e = s.add(2, face(0.99, one_hot(4), 30, 25, 36))
    assert e.gender == "female" and e.gender_probability == pytest.approx((0.45 + 0.45 + 0.99) / 3)
    assert e.observations == 3


def test_weights_are_detection_scores_and_propagated_faces_count_less():
    s = smoother(propagated_weight=0.5)
    s.add(0, face(0.9, one_hot(4), 30, 24, 38, score=1.0))
    e = s.add(1, face(0.1, one_hot(5), 40, 34, 48, score=0.8), detected=False)   # weight 0.4
    w = (1.0, 0.4)
    assert e.gender_probability == pytest.approx((0.9 * w[0] + 0.1 * w[1]) / sum(w))
    assert e.age == pytest.approx((30 * w[0] + 40 * w[1]) / sum(w))
    # quantile averaging: the interval is the weighted mean of the per-frame quantiles
    assert e.age_interval_80 == pytest.approx(((24 * w[0] + 34 * w[1]) / 1.4, (38 * w[0] + 48 * w[1]) / 1.4))
    assert e.age_group == "25-32"
    assert e.age_group_probability == pytest.approx((0.7 * 1.0 + 0.3 / 7 * 0.4) / 1.4)


def test_group_is_the_most_probable_one_whatever_the_rule():
    """As decode.py reports a frame's group (issue 21): the argmax of the averaged probabilities,
    also for "expected_age" models, so a track and its frames follow one rule."""
    s = smoother(rule="expected_age")
    s.add(0, face(0.9, one_hot(4), 44.0, 40, 50))
    e = s.add(1, face(0.9, one_hot(4), 46.0, 40, 50))
    assert e.age == pytest.approx(45.0) and e.age_group == "25-32"   # not 38-43, the group nearest 45 y


def test_half_life_forgets_old_frames():
    s = smoother(half_life=2.0)
    s.add(0, face(0.9, one_hot(4), 30, 25, 35))
    e = s.add(4, face(0.1, one_hot(4), 30, 25, 35))        # the first now weighs 0.25
    assert e.gender_probability == pytest.approx((0.1 * 0.25 + 0.9 * 1.0) / 1.25)   # P(male)
    assert e.gender == "male"


def test_no_smoothing_reports_the_current_face():
    s = TrackSmoother(("female", "male"), GROUPS, "argmax", NO_SMOOTHING)
    s.add(0, face(0.9, one_hot(4), 30, 25, 35))
    e = s.add(1, face(0.2, one_hot(6), 50, 45, 58))
    assert e.gender == "male" and e.gender_probability == pytest.approx(0.8) and e.age == pytest.approx(50)


def test_history_is_bounded_and_config_checked():
    s = smoother(history=3)
    for f in range(10):
        s.add(f, face(0.9, one_hot(4), 30, 25, 35))
    assert len(s.history) == 3 and s.count == 10
    with pytest.raises(ValueError):
        Smoothing(half_life=0)
    with pytest.raises(ValueError):
        Smoothing(propagated_weight=0)
