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

``every=k``: the detector runs on frames 0, k, 2k, ...; in between, the tracks found on the last
detector frame are moved to their Kalman-predicted boxes (landmarks moved with them) and their
faces are cut and inferred there, so every frame still gets a prediction per face.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Optional, Union

import numpy as np

from ..detection.base import Detection
from .results import FrameResult, TrackedFace, TrackSummary, VideoStats
from .smoothing import NO_SMOOTHING, Smoothing, TrackSmoother
from .source import Frame, SkippedFrame, VideoSource
from .tracker import FaceTracker, Track, TrackerConfig

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


@dataclass
class _Pending:
    frame: Frame
    detected: bool
    faces: list   # [(Track, Detection)]


class VideoStream(Iterator[FrameResult]):
    """An iterator of ``FrameResult`` in frame order; ``summary()`` and ``stats`` after (or during)
    the run; ``with_frames()`` to get each result together with its BGR frame (annotation).
    Close it (or use ``with``) to stop early; exhausting it closes it too."""

    def __init__(self, predictor: "Predictor", source: VideoSource, *, every: int = 1,
                 smooth: Optional[Smoothing] = Smoothing(), max_delay_frames: int = 4,
                 tracker: TrackerConfig = TrackerConfig(), max_frames: Optional[int] = None,
                 detect_max_side: Optional[int] = None):
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
        self.tracker = FaceTracker(tracker)
        meta = predictor.metadata
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
    def summary(self) -> list[TrackSummary]:
        """Every track so far, by id, with its smoothed estimate over all its faces."""
        out = []
        for t in self.tracker.finish():
            sm: Optional[TrackSmoother] = t.state
            if sm is None or sm.count == 0:
                continue
            e = sm.estimate()
            out.append(TrackSummary(track_id=t.track_id, first_frame=t.first_frame, last_frame=t.last_frame,
                                    frames_seen=t.frames_seen, frames_detected=t.frames_detected, age=e.age,
                                    age_interval_80=e.age_interval_80, age_group=e.age_group, gender=e.gender,
                                    gender_probability=e.gender_probability))
        return out

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
                # every k-th *processed* frame (a live source's drops do not shift the rhythm)
                run = (self.stats.frames_read % self.every) == 0
                self.stats.frames_read += 1
                try:
                    found = self._detect(det, item.bgr) if run else None
                except Exception as exc:  # noqa: BLE001 - one frame the detector fails on is skipped
                    self._put(_Detected(SkippedFrame(item.index, item.timestamp_ms,
                                                     f"detector failed ({type(exc).__name__}: {exc})",
                                                     item.read_at), None))
                    continue
                self._put(_Detected(item, found))
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
        window: list = []       # _Pending frames and SkippedFrames, in frame order
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
                    frame = item.item
                    if item.detections is not None:
                        faces = self.tracker.update(frame.index, item.detections)
                        self.stats.frames_detected += 1
                    else:
                        faces = self.tracker.propagate(frame.index)
                    window.append(_Pending(frame, item.detections is not None, faces))
                    n_faces += len(faces)
                frames = sum(1 for w in window if isinstance(w, _Pending))
                if (frames >= self.max_delay_frames or n_faces >= cap
                        or (self.source.live and self._queue.empty())):
                    yield from self._flush(window)
                    window, n_faces = [], 0
            yield from self._flush(window)
        finally:
            self._shutdown()

    def _flush(self, window: list):
        """One predict_detected call for the faces of every frame of the window (frames without
        faces skip it), then the results in frame order."""
        with_faces = [w for w in window if isinstance(w, _Pending) and w.faces]
        results = {}
        if with_faces:
            calls0 = self.predictor.inference_calls
            got = self.predictor.predict_detected([p.frame.bgr for p in with_faces],
                                                  [[d for _, d in p.faces] for p in with_faces], colour_order="BGR")
            results = {id(p): r for p, r in zip(with_faces, got)}
            n = sum(len(p.faces) for p in with_faces)
            self.stats.inference_flushes += 1
            self.stats.faces_per_flush.append(n)
            self.stats.faces += n
            self.stats.inference_calls += self.predictor.inference_calls - calls0
        for w in window:
            if isinstance(w, SkippedFrame):
                self.stats.frames_skipped += 1
                self.stats.frames_processed += 1
                self._latency(w.read_at)
                yield FrameResult(frame=w.index, timestamp_ms=w.timestamp_ms, error=w.reason,
                                  error_type="VideoFrameError"), None
                continue
            yield self._frame_result(w, results.get(id(w))), w.frame.bgr

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
            estimate = self._smoother(track).add(p.frame.index, face, detected=p.detected)
            faces.append(TrackedFace(face=face, track_id=track.track_id, detected=p.detected, track=estimate))
        return FrameResult(frame=p.frame.index, timestamp_ms=p.frame.timestamp_ms, width=w, height=h,
                           faces=faces, detected=p.detected)

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

