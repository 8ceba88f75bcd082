"""Tracker on scripted detections: crossing, misses, entering/leaving, propagation
(agegender_edge/video/tracker.py, kalman.py)."""
from __future__ import annotations

import pytest

from agegender_edge.detection.base import Detection
from agegender_edge.video.tracker import FaceTracker, TrackerConfig


def det(x, y, s=60, score=0.9, landmarks=None):
    return Detection(float(x), float(y), float(s), float(s), score, landmarks)


def ids(pairs):
    return [t.track_id for t, _ in pairs]


def test_crossing_faces_keep_their_ids_through_a_miss():
    """A moves right, B moves left on nearly the same row; at the crossing the detector sees only
    the face in front (B) for 6 frames. Velocity carries A through and it is found again."""
    tr = FaceTracker()
    a_id = b_id = None
    for f in range(60):
        ax, bx = 20 + 5 * f, 320 - 5 * f
        hidden = abs(ax - bx) < 40
        dets = ([] if hidden else [det(ax, 100)]) + [det(bx, 108)]
        out = tr.update(f, dets)
        got = {round(d.x): t.track_id for t, d in out}
        if f == 0:
            a_id, b_id = got[ax], got[bx]
        assert got[bx] == b_id, f
        if not hidden:
            assert got[ax] == a_id, f
    assert len(tr.finish()) == 2


def test_track_ends_after_max_missed_frames_and_new_face_gets_new_id():
    tr = FaceTracker(TrackerConfig(max_missed_frames=3))
    first = ids(tr.update(0, [det(100, 100)]))
    for f in range(1, 5):
        tr.update(f, [])
    assert tr.tracks == []
    again = ids(tr.update(5, [det(100, 100)]))
    assert again != first
    assert [t.track_id for t in tr.finish()] == first + again


def test_entering_face_starts_a_track_and_keeps_it():
    tr = FaceTracker()
    seen = set()
    for f in range(20):
        dets = [det(200, 50)] + ([det(-30 + 8 * f, 150)] if f >= 5 else [])
        seen.update(ids(tr.update(f, dets)))
    assert len(seen) == 2


def test_fast_motion_matched_by_distance():
    """14 px/frame on a 40 px face: no overlap between frames once the velocity is off, the
    second (distance) stage still keeps the track."""
    tr = FaceTracker()
    out = [ids(tr.update(f, [det(10 + 30 * f, 50, s=40)])) for f in range(10)]
    assert all(o == out[0] for o in out)


def test_propagate_moves_box_and_landmarks():
    tr = FaceTracker()
    lm = ((110.0, 120.0), (140.0, 120.0), (125.0, 135.0), (112.0, 148.0), (138.0, 148.0))
    for f in range(0, 12, 2):                           # detector on even frames, 4 px/frame
        shift = 4.0 * f
        tr.update(f, [det(100 + shift, 100, landmarks=tuple((x + shift, y) for x, y in lm))])
    (track, moved), = tr.propagate(11)
    last = track.last_detection
    assert moved.x == pytest.approx(last.x + 4.0, abs=1.0)
    dx = moved.x + moved.width / 2 - (last.x + last.width / 2)
    for (px, py), (qx, qy) in zip(last.landmarks, moved.landmarks):
        assert qx - px == pytest.approx(dx, abs=0.5) and qy == pytest.approx(py, abs=0.5)
    assert moved.score == last.score
    # a track missed on the last detector frame is not propagated
    tr.update(12, [])
    assert tr.propagate(13) == []


def test_config_validation():
    with pytest.raises(ValueError):
        TrackerConfig(iou_threshold=0)
    with pytest.raises(ValueError):
        TrackerConfig(max_missed_frames=-1)
