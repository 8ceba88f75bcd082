"""``VideoStream``: the video pipeline behind ``Predictor.predict_video``.

Three threads overlap on a small machine:

    reader (source.py)  ->  detector thread  ->  caller's thread
    decode frames           detect every k-th     track, batch the faces of up to
                            frame                 ``max_delay_frames`` frames into one
                                                  ``Predictor.predict_detected`` call (crop +
                                                  inference), smooth per track, yield results

Cross-frame batching: a face costs much less inside a batch than alone, so the faces of
consecutive frames share inference calls. The window is flushed when it holds
``max_delay_frames`` frames or ``batch_size`` faces, so no result waits for more than
``max_delay_frames`` frames; live sources also flush as soon as no newer frame is waiting (they
want the lowest latency, and batch by themselves when they fall behind). Non-live windows depend
only on the frame count, so a file, the same frames as an iterable, and the CLI give identical
results.

``every=k``: the detector runs on frames 0, k, 2k, ... and on every frame the scene-cut detector
(cuts.py, on the detector thread) flags; in between, the tracks found on the last detector frame
are moved to their Kalman-predicted boxes (landmarks moved with them) and their faces are cut and
inferred there, so every frame still gets a prediction per face.

Appearance: the tracker needs each detection's descriptor BEFORE it associates (tracker.py), so a
window is flushed in two steps: one ``predict_detected`` call for the faces of its detector
frames (age, gender and the descriptor, one network pass), then the tracker runs over the
window's frames in order, then one call for the faces of the frames in between (propagated
boxes, ``every`` > 1). Descriptors stay inside the tracker (in memory, for the stream's lifetime:
see docs/VIDEO.md, "Privacy") and are left out of the results unless ``embeddings=True``.
"""
from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Optional, Union

import numpy as np

from ..detection.base import Detection
from .counting import DEFAULT_MIN_TRACK_FRAMES, PeopleCount, count_people
from .cuts import CutDetector
from .results import FrameResult, TrackedFace, TrackSummary, VideoStats
from .smoothing import NO_SMOOTHING, Smoothing, TrackSmoother
from .source import Frame, SkippedFrame, VideoSource
from .tracker import DEFAULT_FPS, FaceTracker, Track, TrackerConfig, resolve_threshold

if TYPE_CHECKING:   # pragma: no cover
    from ..predictor import Predictor

log = logging.getLogger("agegender_edge")

LATENCY_WINDOW = 10_000   # at least this many recent per-frame latencies are kept (bounded on endless streams)
_END = object()


@dataclass
class _Detected:
    """A frame after the detector thread: its detections, or None between detector runs."""

    item: Union[Frame, SkippedFrame]
    detections: Optional[list[Detection]]
    cut: bool = False        # the scene-cut detector flagged this frame


@dataclass
class _Pending:
    frame: Frame
    detected: bool
    faces: list   # [(Track, Detection)]
    result: object = None    # its ImageResult (detector frames: inferred before tracking)


class VideoStream(Iterator[FrameResult]):
    """An iterator of ``FrameResult`` in frame order; ``summary()`` and ``stats`` after (or during)
    the run; ``with_frames()`` to get each result together with its BGR frame (annotation).
    Close it (or use ``with``) to stop early; exhausting it closes it too."""

    def __init__(self, predictor: "Predictor", source: VideoSource, *, every: int = 1,
                 smooth: Optional[Smoothing] = Smoothing(), max_delay_frames: int = 4,
                 tracker: TrackerConfig = TrackerConfig(), max_frames: Optional[int] = None,
                 detect_max_side: Optional[int] = None, cut_threshold: Optional[float] = None,
                 embeddings: bool = False):
        if every < 1:
            raise ValueError("every must be >= 1")
        if max_delay_frames < 1:
            raise ValueError("max_delay_frames must be >= 1")
        if max_frames is not None and max_frames < 1:
            raise ValueError("max_frames must be >= 1 (or None)")
        self.predictor = predictor
        self.source = source
        self.every = every
        self.smoothing = smooth if smooth is not None else NO_SMOOTHING
        self.max_delay_frames = max_delay_frames
        self.max_frames = max_frames
        if detect_max_side is not None and detect_max_side < 16:
            raise ValueError("detect_max_side must be >= 16 pixels (or None)")
        self.detect_max_side = detect_max_side
        meta = predictor.metadata
        self.appearance_threshold = resolve_threshold(tracker, meta)
        if tracker.use_appearance and meta.embedding is not None and self.appearance_threshold is None:
            log.warning("model %s has a face descriptor but no appearance threshold chosen for it: tracking by "
                        "motion only (training/embedding_threshold.py --write sets one; or "
                        "TrackerConfig(appearance_threshold=...))", meta.name)
        self.embeddings = bool(embeddings)
        if self.embeddings and meta.embedding is None:
            raise ValueError(f"embeddings=True: model {meta.name} has no face descriptor output")
        self.tracker = FaceTracker(tracker, self.appearance_threshold, fps=source.fps,
                                   keep_embeddings=self.embeddings)
        self.tracker.on_merge = self._merged
        # descriptors are computed when the tracker uses them or the caller asked for them
        self._want_descriptors = self.appearance_threshold is not None or self.embeddings
        self.cut_threshold = cut_threshold
        self._cuts = CutDetector(cut_threshold) if cut_threshold is not None else CutDetector()
        self._timing_fps = source.fps or DEFAULT_FPS
        self._expected_faces = 0   # faces a frame between detector runs will carry (window sizing)
        self._smoother_args = (meta.gender_labels, meta.age_groups, meta.age_group_rule)
        self.stats = VideoStats(source=source.description, kind=source.kind, live=source.live, fps=source.fps)
        self._queue: queue.Queue = queue.Queue(maxsize=max_delay_frames + 2)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._gen = self._run()
        self._closed = False

    # -- iteration -----------------------------------------------------------------------------
    def __iter__(self) -> "VideoStream":
        return self

    def __next__(self) -> FrameResult:
        return next(self._gen)[0]

    def with_frames(self) -> Iterator[tuple[FrameResult, Optional[np.ndarray]]]:
        """(result, BGR frame) pairs; the frame is None for a frame that could not be decoded."""
        return self._gen

    def __enter__(self) -> "VideoStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._gen.close()
        self._shutdown()

    def _shutdown(self) -> None:
        self._stop.set()
        self.source.close()
        t = self._thread
        if t is not None and t.is_alive() and t is not threading.current_thread():
            while t.is_alive():       # unblock a detector thread waiting on a full queue
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    pass
                t.join(timeout=0.05)
        self.stats.frames_dropped = self.source.dropped
        self.stats.warnings = list(dict.fromkeys(self.stats.warnings + self.source.warnings))

    # -- results -------------------------------------------------------------------------------
    def summary(self, min_track_frames: int = 1) -> list[TrackSummary]:
        """Every track so far seen on at least ``min_track_frames`` frames, by id, with its
        smoothed estimate over all its faces (and its descriptor when ``embeddings=True``)."""
        out = []
        for t in self.tracker.finish():
            sm: Optional[TrackSmoother] = t.state
            if sm is None or sm.count == 0 or t.frames_seen < min_track_frames:
                continue
            e = sm.estimate()
            out.append(TrackSummary(track_id=t.track_id, first_frame=t.first_frame, last_frame=t.last_frame,
                                    frames_seen=t.frames_seen, frames_detected=t.frames_detected, age=e.age,
                                    age_interval_80=e.age_interval_80, age_group=e.age_group, gender=e.gender,
                                    gender_probability=e.gender_probability,
                                    embedding=tuple(t.embedding.tolist()) if self.embeddings and t.embedding is not None
                                    else None))
        return out

    def count_people(self, min_track_frames: int = DEFAULT_MIN_TRACK_FRAMES) -> PeopleCount:
        """Unique people so far (tracks seen on at least ``min_track_frames`` frames), each with
        its smoothed age, age group and gender, and totals by age group x gender. On a live
        source call it at any time for the rolling count (it reads the tracker's current state)."""
        return count_people(self.summary(min_track_frames), min_track_frames, self.stats,
                            self.predictor.metadata, cuts=self.tracker.cuts, all_tracks=len(self.summary()))

    # -- detector thread -------------------------------------------------------------------------
    def _detect_loop(self) -> None:
        det = self.predictor.detector
        n = 0
        try:
            for item in self.source.items():
                if self._stop.is_set():
                    return
                if self.max_frames is not None and n >= self.max_frames:
                    break
                n += 1
                if isinstance(item, SkippedFrame):
                    self._put(_Detected(item, None))
                    continue
                # every k-th *processed* frame (a live source's drops do not shift the rhythm), and
                # every frame that starts a new shot (tracks must be re-found there)
                run = (self.stats.frames_read % self.every) == 0
                self.stats.frames_read += 1
                try:
                    cut = self._cuts.detect(item.bgr)
                    found = self._detect(det, item.bgr) if (run or cut) else None
                except Exception as exc:  # noqa: BLE001 - one frame the detector fails on is skipped
                    self._put(_Detected(SkippedFrame(item.index, item.timestamp_ms,
                                                     f"detector failed ({type(exc).__name__}: {exc})",
                                                     item.read_at), None))
                    continue
                self._put(_Detected(item, found, cut))
            self._put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            self._put(exc)

    def _detect(self, det, bgr: np.ndarray) -> list[Detection]:
        """The predictor's detector, on a copy downscaled to ``detect_max_side`` when that is set
        (detection dominates the per-frame cost; video faces are often large enough for a smaller
        copy). The shared detector object is not modified: predict() calls may run beside."""
        h, w = bgr.shape[:2]
        side = self.detect_max_side
        if side is None or max(h, w) <= side:
            return det.detect(bgr)
        import cv2
        scale = side / max(h, w)
        small = cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        inv = 1.0 / scale
        return [Detection(d.x * inv, d.y * inv, d.width * inv, d.height * inv, d.score,
                          tuple((x * inv, y * inv) for x, y in d.landmarks) if d.landmarks else None)
                for d in det.detect(small)]

    def _put(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    # -- caller's thread ---------------------------------------------------------------------------
    def _run(self):
        self._thread = threading.Thread(target=self._detect_loop, name="agegender-video-detect", daemon=True)
        self._thread.start()
        window: list = []       # _Detected items and SkippedFrames, in frame order (not tracked yet)
        n_faces = 0
        cap = self.predictor.batch_size
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item.item, SkippedFrame):
                    window.append(item.item)
                else:
                    window.append(item)
                    if item.detections is not None:
                        self._expected_faces = len(item.detections)
                    n_faces += self._expected_faces
                frames = sum(1 for w in window if isinstance(w, _Detected))
                if (frames >= self.max_delay_frames or n_faces >= cap
                        or (self.source.live and self._queue.empty())):
                    yield from self._flush(window)
                    window, n_faces = [], 0
            yield from self._flush(window)
        finally:
            self._shutdown()

    def _time_s(self, frame: Frame) -> float:
        """Source time of a frame in seconds: live sources their timestamps (frames are dropped),
        files and iterables index / fps (identical for the same frames however they arrive)."""
        if self.source.live and frame.timestamp_ms is not None:
            return frame.timestamp_ms / 1000.0
        return frame.index / self._timing_fps

    def _infer(self, pendings: list, descriptors: bool) -> dict:
        """One predict_detected call for the faces of ``pendings`` ([(Frame, [Detection])]),
        frames without faces skipped: {id(frame): ImageResult}."""
        with_faces = [(f, d) for f, d in pendings if d]
        if not with_faces:
            return {}
        calls0 = self.predictor.inference_calls
        got = self.predictor.predict_detected([f.bgr for f, _ in with_faces], [d for _, d in with_faces],
                                              colour_order="BGR", return_embeddings=descriptors)
        n = sum(len(d) for _, d in with_faces)
        self.stats.inference_flushes += 1
        self.stats.faces_per_flush.append(n)
        self.stats.faces += n
        self.stats.inference_calls += self.predictor.inference_calls - calls0
        return {id(f): r for (f, _), r in zip(with_faces, got)}

    def _flush(self, window: list):
        """Detector frames' faces inferred (with descriptors), then tracked frame by frame, then
        the propagated faces of the frames in between inferred; results in frame order."""
        detected = self._infer([(w.item, w.detections) for w in window
                                if isinstance(w, _Detected) and w.detections is not None], self._want_descriptors)
        out: list = []
        for w in window:
            if isinstance(w, SkippedFrame):
                out.append(w)
                continue
            frame = w.item
            if w.detections is None:
                out.append(_Pending(frame, False, self.tracker.propagate(frame.index)))
                continue
            result = detected.get(id(frame))
            embs = None
            if self.appearance_threshold is not None and result is not None and result.ok:
                embs = [None if f.embedding is None else np.asarray(f.embedding, dtype=np.float32)
                        for f in result.faces]
            faces = self.tracker.update(frame.index, w.detections, time_s=self._time_s(frame), embeddings=embs,
                                        cut=w.cut, image_size=(frame.bgr.shape[1], frame.bgr.shape[0]))
            self.stats.frames_detected += 1
            self.stats.scene_cuts += int(w.cut)
            out.append(_Pending(frame, True, faces, result))
        between = [p for p in out if isinstance(p, _Pending) and not p.detected]
        propagated = self._infer([(p.frame, [d for _, d in p.faces]) for p in between], self.embeddings)
        for p in between:
            p.result = propagated.get(id(p.frame))
        for w in out:
            if isinstance(w, SkippedFrame):
                self.stats.frames_skipped += 1
                self.stats.frames_processed += 1
                self._latency(w.read_at)
                yield FrameResult(frame=w.index, timestamp_ms=w.timestamp_ms, error=w.reason,
                                  error_type="VideoFrameError"), None
                continue
            yield self._frame_result(w, w.result), w.frame.bgr

    def _frame_result(self, p: _Pending, image_result) -> FrameResult:
        h, w = p.frame.bgr.shape[:2]
        self.stats.frames_processed += 1
        self._latency(p.frame.read_at)
        if image_result is None:            # no face on this frame: nothing was inferred
            return FrameResult(frame=p.frame.index, timestamp_ms=p.frame.timestamp_ms, width=w, height=h,
                               detected=p.detected)
        if not image_result.ok:
            self.stats.frames_skipped += 1
            return FrameResult(frame=p.frame.index, timestamp_ms=p.frame.timestamp_ms, width=w, height=h,
                               detected=p.detected, error=image_result.error, error_type=image_result.error_type)
        faces = []
        for (track, _det), face in zip(p.faces, image_result.faces):
            if face.embedding is not None and not self.embeddings:
                face = dataclasses.replace(face, embedding=None)   # used by the tracker, not reported
            estimate = self._smoother(track).add(p.frame.index, face, detected=p.detected)
            faces.append(TrackedFace(face=face, track_id=track.track_id, detected=p.detected, track=estimate))
        return FrameResult(frame=p.frame.index, timestamp_ms=p.frame.timestamp_ms, width=w, height=h,
                           faces=faces, detected=p.detected)

    def _merged(self, keep: Track, gone: Track) -> None:
        """The tracker found ``keep`` to be ``gone``'s person again: one smoothed estimate."""
        if gone.state is not None:
            mine = keep.state
            keep.state = gone.state
            if mine is not None:
                keep.state.merge(mine)

    def _smoother(self, track: Track) -> TrackSmoother:
        if track.state is None:
            track.state = TrackSmoother(*self._smoother_args, config=self.smoothing)
        return track.state

    def _latency(self, read_at: float) -> None:
        if read_at:
            lat = self.stats.latency_ms
            lat.append((time.perf_counter() - read_at) * 1000.0)
            if len(lat) > 2 * LATENCY_WINDOW:   # bounded on endless streams: keep the newest
                del lat[:-LATENCY_WINDOW]

