"""Face tracker: IoU association with constant-velocity Kalman prediction (SORT-style).

Why our own: the maintained tracker libraries do not fit the light core — norfair needs
numpy < 2, scipy, filterpy and rich; Roboflow's ``trackers`` pulls supervision, matplotlib, av,
scipy and the full ``opencv-python`` (which clashes with the headless wheel); filterpy needs
scipy and matplotlib. A face tracker needs ~150 lines of numpy.

Per detector frame:
1. every track's Kalman filter predicts its box at this frame (velocity carries a face through
   a crossing and through short detector misses);
2. exact minimum-cost assignment (assignment.py) on 1 - IoU(predicted box, detection), pairs
   under ``iou_threshold`` rejected;
3. the tracks and detections left over are matched by centre distance relative to the face size
   (``max_distance``) — a face that moved more than its box overlap allows, or a coasting track
   whose prediction drifted — with the same exact assignment;
4. unmatched detections start new tracks; a track without a detection for more than
   ``max_missed_frames`` frames is ended.

Between detector runs (``every`` > 1) ``propagate`` moves every track detected on the last
detector frame to its predicted box, with its last landmarks moved and scaled with the box so
landmark alignment still cuts the face the model expects.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from ..detection.base import Detection
from .assignment import min_cost_assignment
from .kalman import BoxKalman

_GATED = 1e6   # cost of a forbidden pair (finite: the solver needs finite costs)


@dataclass(frozen=True)
class TrackerConfig:
    iou_threshold: float = 0.2      # minimum IoU(predicted box, detection) of an IoU match
    max_distance: float = 1.0       # second stage: centre distance / sqrt(w h) of the track's box
    max_size_ratio: float = 1.6     # second stage: sizes may differ at most by this factor
    max_missed_frames: int = 15     # a track survives this many frames without a detection

    def __post_init__(self):
        if not 0.0 < self.iou_threshold <= 1.0:
            raise ValueError("iou_threshold must be in (0, 1]")
        if self.max_missed_frames < 0:
            raise ValueError("max_missed_frames must be >= 0")


def _cxcywh(d: Detection) -> np.ndarray:
    return np.array([d.x + d.width / 2.0, d.y + d.height / 2.0, d.width, d.height])


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every [cx, cy, w, h] box of ``a`` with every one of ``b``."""
    a0, a1 = a[:, None, :2] - a[:, None, 2:] / 2, a[:, None, :2] + a[:, None, 2:] / 2
    b0, b1 = b[None, :, :2] - b[None, :, 2:] / 2, b[None, :, :2] + b[None, :, 2:] / 2
    wh = np.clip(np.minimum(a1, b1) - np.maximum(a0, b0), 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = (a[:, None, 2] * a[:, None, 3]) + (b[None, :, 2] * b[None, :, 3]) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


@dataclass
class Track:
    track_id: int
    kalman: BoxKalman
    last_detection: Detection
    first_frame: int
    last_detected_frame: int
    last_frame: int = -1          # last frame a face of this track was output (detected or propagated)
    frames_seen: int = 0
    frames_detected: int = 0
    state: object = field(default=None, repr=False)   # the pipeline's per-track data (its smoother)

    def propagated_detection(self, frame: int) -> Detection:
        """The last detection moved to the predicted box at ``frame`` (landmarks follow the box)."""
        cx, cy, w, h = self.kalman.predict_to(frame)
        d = self.last_detection
        lm = None
        if d.landmarks:
            ocx, ocy = d.x + d.width / 2.0, d.y + d.height / 2.0
            sx, sy = w / max(d.width, 1e-6), h / max(d.height, 1e-6)
            lm = tuple((cx + (px - ocx) * sx, cy + (py - ocy) * sy) for px, py in d.landmarks)
        return Detection(cx - w / 2.0, cy - h / 2.0, w, h, d.score, lm)


class FaceTracker:
    """Assigns track ids to detections frame by frame (frames in increasing order)."""

    def __init__(self, config: TrackerConfig = TrackerConfig()):
        self.config = config
        self.tracks: list[Track] = []
        self.ended: list[Track] = []
        self._next_id = 1
        self._last_detector_frame: Optional[int] = None

    # -- detector frames ---------------------------------------------------------------------
    def update(self, frame: int, detections: Sequence[Detection]) -> list[tuple[Track, Detection]]:
        """Associate this frame's detections; (track, detection) for every detection, in the
        detections' order (new tracks included)."""
        cfg = self.config
        dets = list(detections)
        boxes = np.array([_cxcywh(d) for d in dets]).reshape(-1, 4)
        preds = np.array([t.kalman.predict_to(frame) for t in self.tracks]).reshape(-1, 4)
        matched: dict[int, int] = {}   # detection index -> track index
        if len(self.tracks) and len(dets):
            iou = _iou_matrix(preds, boxes)
            cost = np.where(iou >= cfg.iou_threshold, 1.0 - iou, _GATED)
            for ti, di in min_cost_assignment(cost):
                if cost[ti, di] < _GATED:
                    matched[di] = ti
            free_t = [i for i in range(len(self.tracks)) if i not in matched.values()]
            free_d = [i for i in range(len(dets)) if i not in matched]
            if free_t and free_d:
                pt, bd = preds[free_t], boxes[free_d]
                size = np.sqrt(pt[:, 2] * pt[:, 3])[:, None]
                dist = np.linalg.norm(pt[:, None, :2] - bd[None, :, :2], axis=2) / np.maximum(size, 1e-6)
                ratio = np.sqrt(bd[None, :, 2] * bd[None, :, 3]) / np.maximum(size, 1e-6)
                ok = (dist <= cfg.max_distance) & (ratio <= cfg.max_size_ratio) & (ratio >= 1.0 / cfg.max_size_ratio)
                cost2 = np.where(ok, dist, _GATED)
                for a, b in min_cost_assignment(cost2):
                    if cost2[a, b] < _GATED:
                        matched[free_d[b]] = free_t[a]
        out: list[tuple[Track, Detection]] = []
        for di, d in enumerate(dets):
            if di in matched:
                t = self.tracks[matched[di]]
                t.kalman.update(boxes[di])
                t.last_detection = d
                t.last_detected_frame = frame
            else:
                t = Track(self._next_id, BoxKalman(boxes[di], frame), d, first_frame=frame, last_detected_frame=frame)
                self._next_id += 1
                self.tracks.append(t)
            t.frames_detected += 1
            self._seen(t, frame)
            out.append((t, d))
        self._end_stale(frame)
        self._last_detector_frame = frame
        return out

    # -- frames between detector runs ----------------------------------------------------------
    def propagate(self, frame: int) -> list[tuple[Track, Detection]]:
        """Tracks detected on the last detector frame, moved to their predicted boxes."""
        out = []
        for t in self.tracks:
            if t.last_detected_frame == self._last_detector_frame:
                out.append((t, t.propagated_detection(frame)))
                self._seen(t, frame)
        return out

    def finish(self) -> list[Track]:
        """Every track of the run (ended and live), by id."""
        return sorted(self.ended + self.tracks, key=lambda t: t.track_id)

    def _seen(self, t: Track, frame: int) -> None:
        if t.last_frame != frame:
            t.frames_seen += 1
            t.last_frame = frame

    def _end_stale(self, frame: int) -> None:
        keep = []
        for t in self.tracks:
            (keep if frame - t.last_detected_frame <= self.config.max_missed_frames else self.ended).append(t)
        self.tracks = keep
