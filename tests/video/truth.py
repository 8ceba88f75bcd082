"""Scoring tracker output against the synthetic clip's ground truth."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from agegender_edge.video.assignment import min_cost_assignment

VISIBLE = 0.6        # a face counts as visible when this share of its chip shows
MATCH_IOU = 0.3


def _iou(a, b) -> float:
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    iw = max(0.0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    ih = max(0.0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)


@dataclass
class Score:
    tracks_of: dict = field(default_factory=lambda: defaultdict(list))   # truth face -> [track id per matched frame]
    truth_of: dict = field(default_factory=lambda: defaultdict(set))     # track id -> {truth faces}
    visible_frames: dict = field(default_factory=lambda: defaultdict(int))
    matched_frames: dict = field(default_factory=lambda: defaultdict(int))
    unmatched_faces: int = 0
    frame_gender = 0
    track_gender = 0
    frame_group = 0
    track_group = 0
    n = 0
    n_group = 0

    def switches(self, face: int) -> int:
        ids = self.tracks_of[face]
        return sum(1 for a, b in zip(ids, ids[1:]) if a != b)

    def coverage(self, face: int) -> float:
        return self.matched_frames[face] / max(1, self.visible_frames[face])


def score(results, truth, labels) -> Score:
    s = Score()
    for r in results:
        gt = [t for t in truth[r.frame] if t.visible >= VISIBLE]
        for t in gt:
            s.visible_frames[t.face] += 1
        if not gt or not r.faces:
            s.unmatched_faces += len(r.faces)
            continue
        cost = np.array([[1.0 - _iou(t.box, (f.face.box.x, f.face.box.y, f.face.box.width, f.face.box.height))
                          for f in r.faces] for t in gt])
        pairs = [(i, j) for i, j in min_cost_assignment(cost) if cost[i, j] <= 1.0 - MATCH_IOU]
        s.unmatched_faces += len(r.faces) - len(pairs)
        for i, j in pairs:
            t, f = gt[i], r.faces[j]
            lab = labels[t.face]
            s.tracks_of[t.face].append(f.track_id)
            s.truth_of[f.track_id].add(t.face)
            s.matched_frames[t.face] += 1
            s.n += 1
            s.frame_gender += f.face.gender == lab["gender"]
            s.track_gender += f.track.gender == lab["gender"]
            if "age_group" in lab:          # LFW faces have no age
                s.n_group += 1
                s.frame_group += f.face.age_group == lab["age_group"]
                s.track_group += f.track.age_group == lab["age_group"]
    return s


def people_of(s: Score, labels) -> dict:
    """track id -> the people (``label["person"]``, else the scripted face) it was matched to."""
    return {tid: {labels[k].get("person", k) for k in faces} for tid, faces in s.truth_of.items()}


def tracks_of_person(s: Score, labels) -> dict:
    """person -> [track id per matched frame, in frame order over all the person's faces]."""
    out = defaultdict(list)
    for k in sorted(s.tracks_of, key=lambda k: k):
        out[labels[k].get("person", k)].extend(s.tracks_of[k])
    return dict(out)
