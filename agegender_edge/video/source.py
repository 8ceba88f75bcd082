"""Video sources: files, camera indices, stream URLs and iterables of frames, as one stream of
``Frame`` / ``SkippedFrame`` items read on a background thread.

* Files (anything the installed OpenCV/FFmpeg reads: mp4, avi, mkv, webm, ...) never drop a
  frame: a bounded queue makes the reader wait for the pipeline. A frame the decoder rejects in
  the middle does not end the video (OpenCV's ``read()`` fails once and the next call goes on):
  it becomes a ``SkippedFrame``, placed by the container timestamps. A video that stops before
  its announced frame count is reported as truncated (``warnings``).
* Live sources (camera index, rtsp/http/... URL; ``live=True`` for anything else) keep only the
  newest frame (latest-frame policy): when the pipeline falls behind, older frames are replaced
  and counted in ``dropped``, so results stay current instead of lagging further and further.
  A file read with ``live=True`` is paced at its frame rate, like a camera.
* Streams are opened with FFmpeg's open / read timeouts (CAP_PROP_OPEN_TIMEOUT_MSEC,
  CAP_PROP_READ_TIMEOUT_MSEC: verified to end a refused, a silent and a stalled 127.0.0.1
  connection), and a watchdog on the consumer side raises VideoSourceError when no frame arrives
  for ``read_timeout_s`` plus a margin, for backends that ignore those properties (V4L2).
* Iterables yield numpy frames (any shape ``load_image`` accepts) with an explicit
  ``colour_order``; a frame that is not a usable image becomes a ``SkippedFrame``.

Timestamps: the container's presentation time (CAP_PROP_POS_MSEC) for files and streams, the
time since opening for cameras, ``index * 1000 / fps`` for iterables when ``fps`` is given,
else None.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Union

import numpy as np

from ..errors import AgeGenderError, VideoSourceError
from ..imageio import DEFAULT_MAX_PIXELS, load_image

log = logging.getLogger("agegender_edge")

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "rtmps://", "http://", "https://", "udp://", "tcp://",
                  "srt://", "rtp://")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".jp2", ".pgm", ".ppm",
                  ".pnm", ".avif"}
VideoInput = Union[str, os.PathLike, int, Iterable[Any]]

# Consecutive failed reads tolerated inside a file whose frame count says more frames follow;
# each failed read consumes one undecodable packet, so this bounds a corrupt run, not the video.
MAX_CONSECUTIVE_FAILURES = 8
_PREFETCH = 4          # decoded frames a file reader may hold ahead of the pipeline
_WATCHDOG_MARGIN_S = 5.0


@dataclass
class Frame:
    index: int
    timestamp_ms: Optional[float]
    bgr: np.ndarray
    read_at: float = 0.0        # time.perf_counter() when the frame was read (latency)


@dataclass
class SkippedFrame:
    index: int
    timestamp_ms: Optional[float]
    reason: str
    read_at: float = 0.0


_END = object()


def classify(source: VideoInput) -> str:
    """"camera" | "stream" | "file" | "frames"."""
    if isinstance(source, bool):
        raise VideoSourceError("a video source must be a path, URL, camera index or iterable of frames, not a bool")
    if isinstance(source, (int, np.integer)):
        return "camera"
    if isinstance(source, (str, os.PathLike)):
        s = os.fspath(source)
        if isinstance(s, bytes):
            s = s.decode(errors="replace")
        return "stream" if s.lower().startswith(STREAM_SCHEMES) else "file"
    if isinstance(source, np.ndarray):
        if source.ndim != 4:
            raise VideoSourceError(f"a numpy video must be 4-D (frames, height, width, channels), not shape "
                                   f"{source.shape}; for one image use Predictor.predict")
        return "frames"
    if isinstance(source, (bytes, bytearray, memoryview)):
        raise VideoSourceError("encoded video bytes are not supported: write them to a file and pass its path")
    if hasattr(source, "__iter__"):
        return "frames"
    raise VideoSourceError(f"unsupported video source {type(source).__name__}: give a path, URL, camera index "
                           f"or an iterable of frames")


def redact(url: str) -> str:
    """A URL without its password (user:pass@host -> user:***@host) for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    cred, _, host = rest.partition("@")
    user = cred.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


class VideoSource:
    """One opened source. Iterate ``items()`` once; ``close()`` releases it (also on errors)."""

    def __init__(self, source: VideoInput, *, colour_order: Optional[str] = None, live: Optional[bool] = None,
                 fps: Optional[float] = None, open_timeout_s: float = 10.0, read_timeout_s: float = 10.0,
                 max_pixels: int = DEFAULT_MAX_PIXELS):
        self.kind = classify(source)
        self.live = (self.kind in ("camera", "stream")) if live is None else bool(live)
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.max_pixels = max_pixels
        self.colour_order = colour_order
        self.fps: Optional[float] = fps
        self.frame_count: Optional[int] = None
        self.dropped = 0
        self.warnings: list[str] = []
        self._cap = None
        self._frames: Optional[Iterable[Any]] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._release_lock = threading.Lock()
        if self.kind == "frames":
            if colour_order not in ("BGR", "RGB"):
                raise ValueError("frames given as arrays need colour_order='BGR' (OpenCV) or 'RGB' (PIL, scikit-image)")
            self.description = f"<{type(source).__name__} of frames>"
            self._frames = source
        else:
            self._open(source)

    # -- opening ---------------------------------------------------------------------------------
    def _open(self, source) -> None:
        import cv2

        if self.kind == "camera":
            index = int(source)
            self.description = f"camera {index}"
            if index < 0:
                raise VideoSourceError(f"camera {index}: a camera index must be >= 0")
            cap = cv2.VideoCapture(index)
            if not cap.isOpened():
                raise VideoSourceError(f"camera {index}: cannot be opened (no such camera, or it is busy)")
        else:
            target = os.fspath(source)
            if self.kind == "file":
                self.description = target
                p = Path(target)
                if not p.exists():
                    raise VideoSourceError(f"{target}: no such file")
                if p.is_dir():
                    raise VideoSourceError(f"{target}: is a folder, not a video file")
                if p.suffix.lower() in IMAGE_SUFFIXES:
                    raise VideoSourceError(f"{target}: is an image, not a video (use Predictor.predict / "
                                           f"agegender-edge predict)")
                if p.stat().st_size == 0:
                    raise VideoSourceError(f"{target}: empty file")
            else:
                self.description = redact(target)
            cap = self._open_ffmpeg(cv2, target)
            if cap is None or not cap.isOpened():
                if self.kind == "stream":
                    raise VideoSourceError(f"{self.description}: cannot open the stream (refused, unreachable, "
                                           f"no answer within {self.open_timeout_s:g} s, or not a video)")
                raise VideoSourceError(f"{target}: not a video OpenCV/FFmpeg can read (unknown format, "
                                       f"truncated, or no frames)")
        self._cap = cap
        fps = cap.get(cv2.CAP_PROP_FPS)
        if self.fps is None and fps and 0 < fps < 1000:
            self.fps = float(fps)
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        if self.kind == "file" and 0 < count < 1e12:
            self.frame_count = int(count)

    def _open_ffmpeg(self, cv2, target: str):
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout_s * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout_s * 1000)]
        if self.kind == "file":
            return cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
        # watchdog: FFmpeg honours the open timeout for the protocols tried here, but a protocol
        # that ignores it must not hang the caller (the thread is left to finish on its own)
        box: dict = {}

        def opener():
            box["cap"] = cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)

        t = threading.Thread(target=opener, name="agegender-video-open", daemon=True)
        t.start()
        t.join(self.open_timeout_s + _WATCHDOG_MARGIN_S)
        if t.is_alive():
            raise VideoSourceError(f"{self.description}: opening did not finish within "
                                   f"{self.open_timeout_s + _WATCHDOG_MARGIN_S:g} s")
        return box.get("cap")

    # -- reading ---------------------------------------------------------------------------------
    def _raw(self) -> Iterator[Union[Frame, SkippedFrame]]:
        """Frames in source order (runs on the reader thread, which also releases the capture:
        ``close`` need not wait for a read blocked on a stalled stream)."""
        if self._frames is not None:
            yield from self._raw_iterable()
            return
        try:
            yield from self._raw_capture()
        finally:
            self._release()

    def _raw_iterable(self):
        for i, item in enumerate(self._frames):
            if self._stop.is_set():
                return
            ts = i * 1000.0 / self.fps if self.fps else None
            try:
                bgr = load_image(item, self.colour_order, self.max_pixels, i).bgr
            except AgeGenderError as exc:
                yield SkippedFrame(i, ts, str(exc), time.perf_counter())
                continue
            yield Frame(i, ts, bgr, time.perf_counter())

    def _raw_capture(self):
        import cv2

        cap = self._cap
        index = 0            # next frame index
        decoded = 0
        failures = 0
        prev_ts: Optional[float] = None
        t_open = time.monotonic()
        pace = 1.0 / self.fps if (self.live and self.kind == "file" and self.fps) else None
        next_due = time.monotonic()
        while not self._stop.is_set():
            if pace:
                delay = next_due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                next_due += pace
            ok, bgr = cap.read()
            if not ok or bgr is None:
                failures += 1
                more_expected = self.frame_count is not None and index < self.frame_count
                if more_expected and failures <= MAX_CONSECUTIVE_FAILURES:
                    continue        # an undecodable packet: the next read goes on after it
                if decoded == 0:
                    raise VideoSourceError(f"{self.description}: no frame could be read (empty, truncated or "
                                           f"corrupt video, or the {self.kind} sent nothing within "
                                           f"{self.read_timeout_s:g} s)")
                if self.frame_count is not None and index < self.frame_count:
                    self.warnings.append(f"{self.description}: ended at frame {index} of {self.frame_count} "
                                         f"(truncated or corrupt)")
                elif self.kind != "file":
                    self.warnings.append(f"{self.description}: the {self.kind} ended or stalled after {decoded} "
                                         f"frames")
                return
            now = time.perf_counter()
            ts = self._timestamp(cap, cv2, t_open)
            if failures and self.kind == "file":
                # place the lost frames by the container clock; without one, one per failed read
                lost = failures
                if ts is not None and prev_ts is not None and self.fps:
                    lost = max(0, int(round((ts - prev_ts) * self.fps / 1000.0)) - 1)
                for _ in range(lost):
                    yield SkippedFrame(index, None, "frame could not be decoded (skipped)", now)
                    index += 1
            failures = 0
            prev_ts = ts
            if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
                bgr = load_image(bgr, "BGR", self.max_pixels, index).bgr
            yield Frame(index, ts, bgr, now)
            index += 1
            decoded += 1

    def _timestamp(self, cap, cv2, t_open: float) -> Optional[float]:
        if self.kind == "camera":
            return (time.monotonic() - t_open) * 1000.0
        ts = cap.get(cv2.CAP_PROP_POS_MSEC)
        return float(ts) if ts is not None and np.isfinite(ts) and ts >= 0 else None

    def items(self) -> Iterator[Union[Frame, SkippedFrame]]:
        """The frames as the pipeline should see them: every frame for non-live sources (read
        ahead on a thread), the newest frame for live ones (older ones dropped and counted)."""
        if self._thread is not None:
            raise RuntimeError("a VideoSource can be iterated only once")
        return self._latest() if self.live else self._prefetched()

    def _prefetched(self):
        q: queue.Queue = queue.Queue(maxsize=_PREFETCH)

        def put(item) -> bool:
            while not self._stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def reader():
            try:
                for item in self._raw():
                    if not put(item):
                        return
                put(_END)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
                put(exc)

        self._thread = threading.Thread(target=reader, name="agegender-video-read", daemon=True)
        self._thread.start()
        while True:
            item = self._get(q.get)
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _latest(self):
        cond = threading.Condition()
        slot: list = []          # at most one pending frame; a terminal item (end / error) after it

        def reader():
            try:
                for item in self._raw():
                    with cond:
                        if slot and isinstance(slot[-1], Frame):
                            slot.pop()
                            self.dropped += 1
                        slot.append(item)
                        cond.notify()
                    if self._stop.is_set():
                        return
                end = _END
            except BaseException as exc:  # noqa: BLE001
                end = exc
            with cond:
                slot.append(end)
                cond.notify()

        self._thread = threading.Thread(target=reader, name="agegender-video-read", daemon=True)
        self._thread.start()

        def take(timeout):
            with cond:
                if not cond.wait_for(lambda: bool(slot), timeout=timeout):
                    raise queue.Empty
                return slot.pop(0)

        while True:
            item = self._get(take)
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _get(self, getter):
        """One item from the reader, with the watchdog: a reader silent for longer than the read
        timeout plus a margin (a backend that ignores the timeout) ends the video with an error.
        Waits in short slices so that ``close`` ends the wait at once."""
        limit = self.read_timeout_s + _WATCHDOG_MARGIN_S if self.kind != "frames" else None
        deadline = None if limit is None else time.monotonic() + limit
        while not self._stop.is_set():
            try:
                return getter(timeout=0.1)
            except queue.Empty:
                if deadline is not None and time.monotonic() > deadline:
                    raise VideoSourceError(f"{self.description}: no frame for {limit:g} s "
                                           f"(the {self.kind} stalled)") from None
        return _END

    def _release(self) -> None:
        with self._release_lock:
            if self._cap is not None:
                self._cap.release()
                self._cap = None

    def close(self) -> None:
        """Stop reading. A reader blocked in a read of a stalled stream is not waited for: it
        releases the capture itself when the read returns (within ``read_timeout_s``)."""
        self._stop.set()
        t = self._thread
        if t is None:
            self._release()
        elif t.is_alive() and t is not threading.current_thread():
            t.join(timeout=1.0)

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
