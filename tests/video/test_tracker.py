"""Tracker on scripted detections: crossing, misses, entering/leaving, propagation
(agegender_edge/video/tracker.py, kalman.py)."""
from __future__ import annotations

import numpy as np
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
    with pytest.raises(ValueError):
        TrackerConfig(appearance_threshold=3.0)
    with pytest.raises(ValueError):
        TrackerConfig(reid_window_s=-1)


# -- appearance (descriptors are unit vectors; cosine distance 1 - a.b) ----------------------------
def unit(*v):
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


A, B, C = unit(1, 0, 0, 0), unit(0, 1, 0, 0), unit(0, 0, 1, 0)
GATE = 0.2


def test_appearance_gate_forbids_a_match_at_the_same_place():
    """Person A, then at once person B in the same box: motion alone would continue A's track."""
    tr = FaceTracker(appearance_threshold=GATE)
    a = ids(tr.update(0, [det(100, 100)], embeddings=[A]))
    assert ids(tr.update(1, [det(100, 100)], embeddings=[unit(1, 0.05, 0, 0)])) == a   # A again
    b = ids(tr.update(2, [det(101, 100)], embeddings=[B]))
    assert b != a
    motion_only = FaceTracker()
    first = ids(motion_only.update(0, [det(100, 100)], embeddings=[A]))
    assert ids(motion_only.update(1, [det(101, 100)], embeddings=[B])) == first


def test_overlapping_faces_are_matched_by_motion_not_appearance():
    """Crossing faces overlap: their crops mix both faces, so the gate is lifted for them."""
    tr = FaceTracker(appearance_threshold=GATE)
    out = [ids(tr.update(f, [det(100 + 10 * f, 100), det(200 - 10 * f, 100)], embeddings=[A, B])) for f in range(3)]
    assert out[0] == out[1] == out[2]
    # the boxes overlap now and their descriptors are muddled (each looks like the other)
    assert ids(tr.update(3, [det(130, 100), det(170, 100)], embeddings=[B, A])) == out[0]


def test_lost_track_is_reidentified_within_the_window_only():
    tr = FaceTracker(TrackerConfig(track_buffer_s=0.2, reid_window_s=2.0), appearance_threshold=GATE, fps=30)
    a = ids(tr.update(0, [det(50, 50)], embeddings=[A]))
    for f in range(1, 40):                      # hidden 1.3 s (beyond the motion buffer)
        tr.update(f, [], time_s=f / 30)
    # back elsewhere (motion would never match it), with a different face beside it
    got = ids(tr.update(40, [det(250, 150), det(20, 150)], time_s=40 / 30, embeddings=[A, C]))
    assert got[0] == a[0] and got[1] != a[0]
    t = next(t for t in tr.tracks if t.track_id == a[0])
    assert t.reidentified == 1
    for f in range(41, 120):
        tr.update(f, [], time_s=f / 30)
    assert ids(tr.update(120, [det(250, 150)], time_s=4.0, embeddings=[A])) != a    # 2.6 s later: a new person
    assert all(t.embedding is None for t in tr.ended)                               # dropped when it ended


def test_scene_cut_turns_motion_off():
    """At a cut the same box can only be the same person if it looks like them."""
    tr = FaceTracker(appearance_threshold=GATE)
    a = ids(tr.update(0, [det(100, 100), det(300, 100)], embeddings=[A, B]))
    # cut: A's person now stands where B was and a stranger where A was
    got = ids(tr.update(1, [det(300, 100), det(100, 100)], embeddings=[A, C], cut=True))
    assert got[0] == a[0] and got[1] not in a
    assert tr.cuts == 1


def test_young_track_takes_over_a_lost_one_after_trusted_looks():
    """A face reappearing half hidden starts a new track (its descriptor fits nobody); once it is
    seen clearly on 3 frames in a row it is recognised as the lost person and takes the old id."""
    tr = FaceTracker(TrackerConfig(track_buffer_s=0.1), appearance_threshold=GATE, fps=30)
    a = ids(tr.update(0, [det(50, 50)], embeddings=[A]))
    for f in range(1, 10):
        tr.update(f, [])
    size = (640, 480)
    young = ids(tr.update(10, [det(0, 50)], embeddings=[C], image_size=size))   # cut off by the frame edge
    assert young != a
    assert ids(tr.update(11, [det(4, 50)], embeddings=[unit(1, 0, 0.3, 0)], image_size=size)) == young
    assert ids(tr.update(12, [det(8, 50)], embeddings=[A], image_size=size)) == young
    assert ids(tr.update(13, [det(12, 50)], embeddings=[A], image_size=size)) == a   # third agreeing look
    assert tr.merges == 1 and [t.track_id for t in tr.finish()] == a
