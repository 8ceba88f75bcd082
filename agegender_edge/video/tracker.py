"""Face tracker: motion (constant-velocity Kalman, IoU and centre distance) AND appearance (the
model's face descriptor), with scene cuts and re-identification of lost tracks.

Why our own: the maintained tracker libraries do not fit the light core — norfair needs
numpy < 2, scipy, filterpy and rich; Roboflow's ``trackers`` pulls supervision, matplotlib, av,
scipy and the full ``opencv-python`` (which clashes with the headless wheel); filterpy needs
scipy and matplotlib. A face tracker needs ~250 lines of numpy.

Appearance: every detection on a detector frame comes with the model's descriptor (the
``embedding`` output, L2-normalised; the same network pass as age and gender); each track keeps
an exponential moving average of its faces' descriptors (``embedding_momentum``, renormalised).
``d_app`` = cosine distance (1 - a.b) between a track's descriptor and a detection's. A pair with
``d_app`` over the gate (``appearance_threshold``; default: the model's own
``embedding.match_threshold``, chosen on data by training/embedding_threshold.py) can never be
matched, however well the boxes agree: a different person appearing where another was (a hard
cut at the same place, one person leaving and another entering) starts a new track.

Per detector frame, with a time ``t`` in seconds (the source's timestamps, else frame / fps):
1. every track's Kalman filter predicts its box at this frame;
2. *active* tracks (detected within ``track_buffer_s``, no scene cut since) — exact minimum-cost
   assignment (assignment.py) on (1 - IoU) + ``appearance_weight`` x d_app, pairs under
   ``iou_threshold`` or over the gate rejected;
3. the active tracks and detections left over: centre distance relative to the face size
   (``max_distance``, sizes within ``max_size_ratio``) + ``appearance_weight`` x d_app, same gate;
4. re-identification: every track still unmatched and not older than ``reid_window_s`` since its
   last detection — the lost ones, and after a scene cut all of them — against the detections
   left, by appearance alone (d_app under ``reid_threshold``, default the gate); a re-found track
   restarts its Kalman filter at the new box (its old velocity means nothing after a gap);
5. unmatched detections start new tracks; a track is ended ``reid_window_s`` after its last
   detection (``track_buffer_s`` when there are no descriptors: nothing could re-find it);
6. late re-identification: a face that came back half hidden (behind a panel, at the frame's
   edge) may have started a new track before its descriptor could be trusted; the first time a
   young track — one that began after a lost track's last detection, so the two never coexisted
   — gets trusted descriptors within ``reid_threshold`` of that lost track's on 3 detector frames
   in a row, the two are one
   person: the young track takes the lost track's id, history and smoothed estimate (frames
   already reported keep the id they had; ``merges`` counts these).

At a scene cut (``cut=True``, cuts.py) motion is not trusted: steps 2-3 are skipped and every
track can only be carried across by appearance (step 4).

Descriptors of faces that overlap another detection (crossing faces: the crop shows parts of
both) or are partly outside the frame (entering, leaving) are not trusted either: for them the
gate is lifted (motion decides, as the Kalman filter does well through a crossing) and they do
not update the track's descriptor (a track that has only such descriptors takes the first
trusted one in their place).

A model without the descriptor output: motion only (steps 2-3 and 5), as before.

Between detector runs (``every`` > 1) ``propagate`` moves every track detected on the last
detector frame to its predicted box, with its last landmarks moved and scaled with the box so
landmark alignment still cuts the face the model expects.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from ..detection.base import Detection
from .assignment import min_cost_assignment
from .kalman import BoxKalman

_GATED = 1e6   # cost of a forbidden pair (finite: the solver needs finite costs)
LATE_REID_HITS = 3   # step 6 needs this many consecutive agreeing detector frames
DEFAULT_FPS = 30.0   # timing of a source that gives neither timestamps nor a frame rate
OVERLAP_UNTRUSTED = 0.15   # a detection sharing this much of its area with another: descriptor not trusted


@dataclass(frozen=True)
class TrackerConfig:
    iou_threshold: float = 0.2      # minimum IoU(predicted box, detection) of an IoU match
    max_distance: float = 1.0       # second stage: centre distance / sqrt(w h) of the track's box
    max_size_ratio: float = 1.6     # second stage: sizes may differ at most by this factor
    track_buffer_s: float = 1.0     # motion matching for this long after a track's last detection
    reid_window_s: float = 2.0      # a lost track can be re-found by appearance this long after it
    # cosine-distance gate; None: the model's metadata (embedding.match_threshold), see
    # ``resolve_threshold``; a float overrides it
    appearance_threshold: Optional[float] = None
    reid_threshold: Optional[float] = None   # appearance-only matches (step 4); None: the gate
    appearance_weight: float = 1.0  # d_app's weight in the motion stages' cost
    embedding_momentum: float = 0.9  # the track descriptor's moving average: new = m * old + (1 - m) * face
    use_appearance: bool = True     # False: motion only, as a model without descriptors
    max_missed_frames: Optional[int] = None   # deprecated frame-count buffer: track_buffer_s = n / fps

    def __post_init__(self):
        if not 0.0 < self.iou_threshold <= 1.0:
            raise ValueError("iou_threshold must be in (0, 1]")
        if self.max_missed_frames is not None and self.max_missed_frames < 0:
            raise ValueError("max_missed_frames must be >= 0")
        if not self.track_buffer_s >= 0 or not self.reid_window_s >= 0:
            raise ValueError("track_buffer_s and reid_window_s must be >= 0 seconds")
        for name in ("appearance_threshold", "reid_threshold"):
            v = getattr(self, name)
            if v is not None and not 0.0 < v <= 2.0:
                raise ValueError(f"{name} must be a cosine distance in (0, 2] (or None: the model's)")
        if not 0.0 <= self.embedding_momentum < 1.0:
            raise ValueError("embedding_momentum must be in [0, 1)")


def resolve_threshold(config: TrackerConfig, metadata) -> Optional[float]:
    """The appearance gate for a model: the config's, else the model's ``embedding.match_threshold``;
    None (appearance not used) when the model has no descriptor or no threshold was chosen for it
    (training/embedding_threshold.py --write sets one)."""
    emb = getattr(metadata, "embedding", None)
    if not config.use_appearance or emb is None:
        return None
    return config.appearance_threshold if config.appearance_threshold is not None else emb.match_threshold


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


def _overlapped(boxes: np.ndarray) -> np.ndarray:
    """True for each [cx, cy, w, h] box sharing more than OVERLAP_UNTRUSTED of its area with another."""
    n = len(boxes)
    if n < 2:
        return np.zeros(n, dtype=bool)
    a0, a1 = boxes[:, None, :2] - boxes[:, None, 2:] / 2, boxes[:, None, :2] + boxes[:, None, 2:] / 2
    b0, b1 = boxes[None, :, :2] - boxes[None, :, 2:] / 2, boxes[None, :, :2] + boxes[None, :, 2:] / 2
    wh = np.clip(np.minimum(a1, b1) - np.maximum(a0, b0), 0, None)
    share = wh[..., 0] * wh[..., 1] / np.maximum(boxes[:, 2] * boxes[:, 3], 1e-9)[:, None]
    np.fill_diagonal(share, 0.0)
    return share.max(axis=1) > OVERLAP_UNTRUSTED


def _cut_off(boxes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """True for each [cx, cy, w, h] box reaching (within 2 px) or crossing the border of a
    (width, height) frame: the face may be cut off there."""
    w, h = image_size
    x0, y0 = boxes[:, 0] - boxes[:, 2] / 2, boxes[:, 1] - boxes[:, 3] / 2
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    # detectors clip their boxes to the frame, so a box reaching the border may hide a cut-off face
    m = 2.0
    return (x0 < m) | (y0 < m) | (x1 > w - m) | (y1 > h - m)


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
    last_detected_time: float = 0.0   # seconds (source time) of the last detection
    embedding: Optional[np.ndarray] = field(default=None, repr=False)   # moving-average descriptor (unit norm)
    embedding_trusted: bool = False   # False: so far only from overlapped / cut-off faces (not gated on)
    motion_trusted: bool = True   # False after a scene cut / a long miss: only appearance can re-find it
    reidentified: int = 0         # times it was re-found by appearance after being lost
    first_time: float = 0.0       # seconds (source time) of its first detection
    reidentified_from: Optional[int] = None   # the id it started with, when step 6 gave it an older one
    late_hits: tuple = (None, 0)  # step 6: (lost track id, consecutive detector frames within the gate)
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
    """Assigns track ids to detections frame by frame (frames in increasing order).

    ``appearance_threshold``: the resolved gate (``resolve_threshold``); None = motion only.
    ``keep_embeddings``: ended tracks keep their descriptor (for an explicit export); by
    default it is dropped when a track ends, once nothing can re-identify it any more."""

    def __init__(self, config: TrackerConfig = TrackerConfig(), appearance_threshold: Optional[float] = None,
                 fps: Optional[float] = None, keep_embeddings: bool = False):
        self.config = config
        self.fps = fps if fps and fps > 0 and math.isfinite(fps) else DEFAULT_FPS
        self.gate = appearance_threshold if config.use_appearance else None
        if config.appearance_threshold is not None and config.use_appearance:
            self.gate = config.appearance_threshold
        self.reid_gate = config.reid_threshold if config.reid_threshold is not None else self.gate
        self.keep_embeddings = keep_embeddings
        self.tracks: list[Track] = []
        self.ended: list[Track] = []
        self._next_id = 1
        self._last_detector_frame: Optional[int] = None
        self.cuts = 0
        self.merges = 0
        self.on_merge = None     # callback(keep: Track, gone: Track) after ``keep`` took ``gone``'s identity

    @property
    def buffer_s(self) -> float:
        cfg = self.config
        return cfg.max_missed_frames / self.fps if cfg.max_missed_frames is not None else cfg.track_buffer_s

    def _time(self, frame: int, time_s: Optional[float]) -> float:
        return float(time_s) if time_s is not None else frame / self.fps

    # -- detector frames ---------------------------------------------------------------------
    def update(self, frame: int, detections: Sequence[Detection], *, time_s: Optional[float] = None,
               embeddings: Optional[Sequence[Optional[np.ndarray]]] = None, cut: bool = False,
               image_size: Optional[tuple[int, int]] = None) -> list[tuple[Track, Detection]]:
        """Associate this frame's detections; (track, detection) for every detection, in the
        detections' order (new tracks included). ``embeddings``: one unit descriptor (or None)
        per detection; ``cut``: this frame starts a new shot (motion not trusted);
        ``image_size``: (width, height), to distrust the descriptors of cut-off faces."""
        cfg = self.config
        now = self._time(frame, time_s)
        dets = list(detections)
        boxes = np.array([_cxcywh(d) for d in dets]).reshape(-1, 4)
        if cut:
            self.cuts += 1
            for t in self.tracks:
                t.motion_trusted = False
        have = embeddings is not None
        use_app = have and self.gate is not None
        emb = None
        if have:
            emb = [None if e is None else np.asarray(e, dtype=np.float32) for e in embeddings]
            trusted_det = np.array([e is not None for e in emb], dtype=bool) & ~_overlapped(boxes)
            if image_size is not None and len(boxes):
                trusted_det &= ~_cut_off(boxes, image_size)
        tracks = self.tracks
        app = self._appearance(tracks, emb) if use_app else None      # [T, D] cosine distances, nan = unknown
        if use_app:
            app_gated = np.where(np.isnan(app), False, app > self.gate) & trusted_det[None, :]
            app_cost = np.where(np.isnan(app) | ~trusted_det[None, :], 0.0, app) * cfg.appearance_weight
        matched: dict[int, int] = {}   # detection index -> track index
        active = [i for i, t in enumerate(tracks)
                  if t.motion_trusted and now - t.last_detected_time <= self.buffer_s + 1e-9]
        if active and dets:
            preds = np.array([tracks[i].kalman.predict_to(frame) for i in active]).reshape(-1, 4)
            iou = _iou_matrix(preds, boxes)
            ok = iou >= cfg.iou_threshold
            cost = 1.0 - iou
            if use_app:
                ok &= ~app_gated[active]
                cost = cost + app_cost[active]
            self._assign(np.where(ok, cost, _GATED), active, list(range(len(dets))), matched)
            free_t = [k for k, i in enumerate(active) if i not in matched.values()]
            free_d = [j for j in range(len(dets)) if j not in matched]
            if free_t and free_d:
                pt, bd = preds[free_t], boxes[free_d]
                size = np.sqrt(pt[:, 2] * pt[:, 3])[:, None]
                dist = np.linalg.norm(pt[:, None, :2] - bd[None, :, :2], axis=2) / np.maximum(size, 1e-6)
                ratio = np.sqrt(bd[None, :, 2] * bd[None, :, 3]) / np.maximum(size, 1e-6)
                ok = (dist <= cfg.max_distance) & (ratio <= cfg.max_size_ratio) & (ratio >= 1.0 / cfg.max_size_ratio)
                cost2 = dist
                rows = [active[k] for k in free_t]
                if use_app:
                    ok &= ~app_gated[np.ix_(rows, free_d)]
                    cost2 = cost2 + app_cost[np.ix_(rows, free_d)]
                self._assign(np.where(ok, cost2, _GATED), rows, free_d, matched)
        reid: set[int] = set()
        if use_app and dets:
            free_t = [i for i, t in enumerate(tracks) if i not in matched.values()
                      and t.embedding is not None and t.embedding_trusted and now - t.last_detected_time <= cfg.reid_window_s + 1e-9]
            free_d = [j for j in range(len(dets)) if j not in matched and emb[j] is not None and trusted_det[j]]
            if free_t and free_d:
                a = app[np.ix_(free_t, free_d)]
                ok = ~np.isnan(a) & (a <= self.reid_gate)
                before = set(matched)
                self._assign(np.where(ok, a, _GATED), free_t, free_d, matched)
                reid = set(matched) - before
        out: list[tuple[Track, Detection]] = []
        for di, d in enumerate(dets):
            if di in matched:
                t = tracks[matched[di]]
                if di in reid or not t.motion_trusted:
                    t.kalman = BoxKalman(boxes[di], frame)    # a gap or a cut: the old velocity means nothing
                    t.reidentified += 1
                else:
                    t.kalman.update(boxes[di])
                t.last_detection = d
                t.last_detected_frame = frame
                t.motion_trusted = True
            else:
                t = Track(self._next_id, BoxKalman(boxes[di], frame), d, first_frame=frame, last_detected_frame=frame,
                          first_time=now)
                self._next_id += 1
                tracks.append(t)
            t.last_detected_time = now
            if have and emb[di] is not None:
                if trusted_det[di]:
                    self._update_embedding(t, emb[di], replace=not t.embedding_trusted)
                    t.embedding_trusted = True
                elif t.embedding is None:
                    self._update_embedding(t, emb[di], replace=True)
            t.frames_detected += 1
            self._seen(t, frame)
            out.append((t, d))
        if use_app:
            self._late_reid([t for t, _ in out], [trusted_det[di] for di in range(len(dets))],
                            [emb[di] for di in range(len(dets))], now)
        self._end_stale(now)
        self._last_detector_frame = frame
        return out

    def _late_reid(self, seen: list[Track], trusted: list[bool], emb: list, now: float) -> None:
        """Step 6: young tracks seen now with a trusted descriptor take over a lost track of the
        same person (the closest one within the re-identification gate)."""
        window = self.config.reid_window_s + 1e-9
        for t, ok, e in zip(seen, trusted, emb):
            if not ok or e is None or t.reidentified_from is not None:
                continue
            lost = [L for L in self.tracks if L is not t and L.embedding is not None and L.embedding_trusted
                    and L.last_detected_time < t.first_time and now - L.last_detected_time <= window
                    and L.last_detected_frame < t.first_frame and L not in seen]
            if not lost:
                continue
            d = [1.0 - float(L.embedding @ e) for L in lost]
            k = int(np.argmin(d))
            if d[k] > self.reid_gate:
                t.late_hits = (None, 0)
                continue
            L = lost[k]
            # the same lost track on LATE_REID_HITS detector frames in a row (one close descriptor
            # could be chance: a different person is within the gate for ~1 % of pairs)
            t.late_hits = (L.track_id, t.late_hits[1] + 1 if t.late_hits[0] == L.track_id else 1)
            if t.late_hits[1] < LATE_REID_HITS:
                continue
            t.reidentified_from = t.track_id
            t.track_id, t.first_frame, t.first_time = L.track_id, L.first_frame, L.first_time
            t.frames_seen += L.frames_seen
            t.frames_detected += L.frames_detected
            t.reidentified = L.reidentified + 1
            m = self.config.embedding_momentum
            v = m * L.embedding + (1.0 - m) * e
            t.embedding = (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)
            t.embedding_trusted = True
            self.tracks.remove(L)
            self.merges += 1
            if self.on_merge is not None:
                self.on_merge(t, L)

    def _appearance(self, tracks: list[Track], emb: list) -> np.ndarray:
        """[tracks, detections] cosine distances; nan where either side has no (trusted) descriptor."""
        out = np.full((len(tracks), len(emb)), np.nan)
        rows = [i for i, t in enumerate(tracks) if t.embedding is not None and t.embedding_trusted]
        cols = [j for j, e in enumerate(emb) if e is not None]
        if rows and cols:
            a = np.stack([tracks[i].embedding for i in rows])
            b = np.stack([emb[j] for j in cols])
            out[np.ix_(rows, cols)] = 1.0 - a @ b.T
        return out

    @staticmethod
    def _assign(cost: np.ndarray, rows: list[int], cols: list[int], matched: dict[int, int]) -> None:
        for a, b in min_cost_assignment(cost):
            if cost[a, b] < _GATED:
                matched[cols[b]] = rows[a]

    def _update_embedding(self, t: Track, e: np.ndarray, replace: bool = False) -> None:
        m = self.config.embedding_momentum
        v = e if (t.embedding is None or replace) else m * t.embedding + (1.0 - m) * e
        n = float(np.linalg.norm(v))
        t.embedding = (v / n).astype(np.float32) if n > 0 else v.astype(np.float32)

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

    def _end_stale(self, now: float) -> None:
        life = max(self.buffer_s, self.config.reid_window_s) if self.gate is not None else self.buffer_s
        keep = []
        for t in self.tracks:
            if now - t.last_detected_time <= life + 1e-9:
                keep.append(t)
            else:
                if not self.keep_embeddings:
                    t.embedding = None      # nothing can re-identify it any more: the descriptor goes
                self.ended.append(t)
        self.tracks = keep
