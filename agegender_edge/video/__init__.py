"""Video files, cameras and streams: tracked faces with smoothed age and gender.

Entry point: ``Predictor.predict_video`` (-> ``predict_video`` here). Modules: source.py (files,
cameras, URLs, iterables; latest-frame policy for live sources), tracker.py (+ kalman.py,
assignment.py), smoothing.py, pipeline.py (threads, cross-frame batching), results.py,
annotate.py (boxes and track labels into a video file), synthetic.py (scripted test clips with
ground truth). docs/VIDEO.md describes the whole.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Optional

from .counting import DEFAULT_MIN_TRACK_FRAMES, PeopleCount, Person
from .pipeline import VideoStream
from .results import FrameResult, TrackEstimate, TrackedFace, TrackSummary, VideoStats
from .smoothing import NO_SMOOTHING, Smoothing
from .source import VideoInput, VideoSource
from .tracker import TrackerConfig

if TYPE_CHECKING:   # pragma: no cover
    from ..predictor import Predictor

__all__ = ["predict_video", "VideoStream", "VideoSource", "FrameResult", "TrackedFace", "TrackEstimate",
           "TrackSummary", "VideoStats", "Smoothing", "NO_SMOOTHING", "TrackerConfig", "PeopleCount", "Person",
           "DEFAULT_MIN_TRACK_FRAMES"]


def predict_video(predictor: "Predictor", source: VideoInput, *, every: int = 1,
                  smooth: Optional[Smoothing] = Smoothing(), live: Optional[bool] = None,
                  max_delay_frames: int = 4, colour_order: Optional[str] = None, fps: Optional[float] = None,
                  max_frames: Optional[int] = None, tracker: TrackerConfig = TrackerConfig(),
                  open_timeout_s: float = 10.0, read_timeout_s: float = 10.0,
                  detect_max_side: Optional[int] = None, reid_window_s: Optional[float] = None,
                  cut_threshold: Optional[float] = None, embeddings: bool = False) -> VideoStream:
    """Open ``source`` and return the running ``VideoStream`` (see Predictor.predict_video).

    fps: timestamps for an iterable of frames; max_frames: stop after that many frames;
    tracker: TrackerConfig; open_timeout_s / read_timeout_s: streams (FFmpeg timeouts + a
    watchdog); detect_max_side: run the detector on a copy of each frame downscaled to this longer
    side (None: the predictor's detector as it is, e.g. 960) — the detector dominates the
    per-frame cost; at 320, faces of ~45 px and more in a 640x480 frame are still found (YuNet,
    measured on UTKFace chips), smaller ones are not. reid_window_s: how long a lost track can be
    re-identified by appearance (overrides ``tracker.reid_window_s``, default 2 s); cut_threshold:
    the scene-cut detector's (cuts.py); embeddings: keep the face descriptors in the results
    (``FaceResult.embedding``, ``TrackSummary.embedding``) — off by default (docs/VIDEO.md, Privacy)."""
    if every < 1 or max_delay_frames < 1:
        raise ValueError("every and max_delay_frames must be >= 1")
    src = VideoSource(source, colour_order=colour_order, live=live, fps=fps, open_timeout_s=open_timeout_s,
                      read_timeout_s=read_timeout_s, max_pixels=predictor.max_pixels)
    try:
        if reid_window_s is not None:
            tracker = dataclasses.replace(tracker, reid_window_s=reid_window_s)
        return VideoStream(predictor, src, every=every, smooth=smooth, max_delay_frames=max_delay_frames,
                           tracker=tracker, max_frames=max_frames, detect_max_side=detect_max_side,
                           cut_threshold=cut_threshold, embeddings=embeddings)
    except BaseException:
        src.close()
        raise
