"""Typed results of ``Predictor.predict_video``; each serialises to plain dicts / JSON like
``ImageResult`` (one ``FrameResult.to_json()`` is one line of ``agegender-edge video --format jsonl``)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Optional

from ..results import FaceResult


@dataclass(frozen=True)
class TrackEstimate:
    """A track's smoothed prediction, from every face of the track up to and including this frame
    (causal: it never uses later frames). See smoothing.py for how the averages are taken."""

    age: float                           # quantile-averaged median age (years)
    age_interval_80: tuple[float, float]  # quantile-averaged 10th..90th percentile
    age_group: str
    age_group_probability: float          # averaged probability of ``age_group``
    gender: str
    gender_probability: float            # averaged probability of ``gender``
    observations: int                    # faces averaged so far


@dataclass(frozen=True)
class TrackedFace:
    """One face on one frame: the per-frame prediction (``face``) and its track's smoothed one."""

    face: FaceResult
    track_id: int
    detected: bool        # True: the detector found this box on this frame; False: the tracker
    #                       propagated it (a frame between detector runs, ``every`` > 1)
    track: TrackEstimate

    def to_dict(self) -> dict:
        """The image face's JSON plus ``track_id``, ``detected`` and the ``track`` object."""
        d = self.face.to_dict()
        d["track_id"] = self.track_id
        d["detected"] = self.detected
        d["track"] = asdict(self.track)
        return d


@dataclass(frozen=True)
class FrameResult:
    """One video frame. ``error`` is set (and ``faces`` empty) for a frame that could not be
    decoded or processed; the video goes on."""

    frame: int                            # index in the source (gaps: frames dropped by a live source)
    timestamp_ms: Optional[float]         # container time when it has one, else None (see source.py)
    width: int = 0
    height: int = 0
    faces: list[TrackedFace] = field(default_factory=list)
    detected: bool = False                # the detector ran on this frame (every k-th frame)
    error: Optional[str] = None
    error_type: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        return {"frame": self.frame, "timestamp_ms": self.timestamp_ms, "width": self.width, "height": self.height,
                "detected": self.detected, "faces": [f.to_dict() for f in self.faces],
                "error": self.error, "error_type": self.error_type}

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)


@dataclass(frozen=True)
class TrackSummary:
    """One track over the whole run (``VideoStream.summary()``): its final smoothed estimate."""

    track_id: int
    first_frame: int
    last_frame: int
    frames_seen: int          # frames with a face of this track (detected or propagated)
    frames_detected: int      # of those, frames where the detector found it
    age: float
    age_interval_80: tuple[float, float]
    age_group: str
    gender: str
    gender_probability: float
    # the track's descriptor (moving average, unit norm): only with ``embeddings=True``
    embedding: Optional[tuple[float, ...]] = None

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["embedding"] is None:
            del d["embedding"]
        return d


@dataclass
class VideoStats:
    """Counters of one run; ``latency_ms`` holds the per-frame latencies (read -> result) of the
    last ``LATENCY_WINDOW`` frames."""

    source: str
    kind: str                       # "file" | "camera" | "stream" | "frames"
    live: bool
    fps: Optional[float] = None     # the container's / camera's nominal rate, when known
    frames_read: int = 0            # decoded frames the pipeline took from the source (after live drops)
    frames_processed: int = 0       # frames with a FrameResult (errors included)
    frames_detected: int = 0        # frames the detector ran on
    frames_dropped: int = 0         # live sources: stale frames replaced by newer ones (latest-frame policy)
    frames_skipped: int = 0         # frames that could not be decoded or processed (FrameResult.error)
    scene_cuts: int = 0             # frames the cut detector flagged (motion not trusted there)
    faces: int = 0                  # faces inferred
    inference_flushes: int = 0      # predict_detected calls (faces of several frames each)
    faces_per_flush: list = field(default_factory=list)
    inference_calls: int = 0        # network calls (a flush over batch_size faces takes several)
    latency_ms: list = field(default_factory=list)
    warnings: list = field(default_factory=list)   # e.g. "ended at frame 11 of 20 (truncated?)"

    def to_dict(self) -> dict:
        return asdict(self)
