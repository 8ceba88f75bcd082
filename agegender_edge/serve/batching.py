"""Cross-request batching: the images of concurrent requests stream through one Predictor.

One thread runs ``Predictor.predict_iter`` over a generator that takes admitted images from a
queue, so decode / detect of new images overlaps inference of earlier ones and the faces of
different requests fill the same inference batches, as in one long ``predict_iter`` call.
While images are in flight the generator waits at most ``max_batch_delay_ms`` for the next one;
then it ends the stream, the pipeline runs its partial batch, and the requests are answered (a
lone request waits at most that long for company). predict_iter keeps input order, so each
result goes back to the request future it was admitted with.

Admission is bounded: more than ``max_queue`` images (or ``max_queue_bytes``) admitted and not
yet answered -> QueueFullError (HTTP 503 with Retry-After) instead of a growing queue.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional, Sequence

from ..results import ImageResult
from .payload import rename_result

log = logging.getLogger("agegender_edge.serve")


class QueueFullError(Exception):
    """More images are waiting than the server admits (HTTP 503)."""

    retry_after_s = 1


class ShuttingDownError(Exception):
    """The server stopped before this image could be predicted (HTTP 503)."""


@dataclass(eq=False)
class _Work:
    data: bytes
    name: str
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    nbytes: int = 0
    index: int = -1                     # position in its predict_iter stream ("<bytes N>" in messages)


class Engine:
    """What the routes need from an inference engine (local thread, or a Ray Serve replica)."""

    model_info: dict = {}

    def add_batch_listener(self, listener: Callable[[int], None]) -> None:
        """``listener(n)`` after every inference call of ``n`` faces (metrics)."""
        self.__dict__.setdefault("_listeners", []).append(listener)

    def _notify_batch(self, n: int) -> None:
        for listener in self.__dict__.get("_listeners", ()):
            listener(n)

    def ready(self) -> bool:
        raise NotImplementedError

    def queue_depth(self) -> int:
        return 0

    async def predict(self, images: Sequence[tuple[str, bytes]]) -> list[ImageResult]:
        """(name, encoded bytes) -> one ImageResult each, in order; QueueFullError when full."""
        raise NotImplementedError

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


def model_info(predictor) -> dict:
    """What ``GET /v1/model`` says about the Predictor behind the server."""
    meta = predictor.metadata
    return {"name": meta.name, "file": predictor.model_path.name, "weights_sha256": meta.weights_sha256,
            "precision": meta.precision, "backend": predictor.runner.describe(),
            "detector": predictor.detector.describe(), "age_groups": list(meta.age_groups),
            "gender_labels": list(meta.gender_labels), "batch_size": predictor.batch_size,
            "threads": predictor.threads.describe()}


class BatchObserver:
    """The Predictor's runner, seen from outside: every inference call's batch size goes to
    ``on_batch`` (metrics, benchmarks); everything else is the runner's own."""

    def __init__(self, runner, on_batch: Callable[[int], None]):
        self._runner = runner
        self._on_batch = on_batch

    def infer(self, batch):
        out = self._runner.infer(batch)
        self._on_batch(int(batch.shape[0]))
        return out

    def __getattr__(self, name):
        return getattr(self._runner, name)


@dataclass
class EngineStats:
    images: int = 0
    faces: int = 0
    inference_calls: int = 0
    inference_faces: int = 0
    streams: int = 0
    batch_sizes: list = field(default_factory=list)   # kept only when asked (benchmarks)


class LocalEngine(Engine):
    """One Predictor in this process, fed by the requests of every connection."""

    _STOP = object()

    def __init__(self, predictor, max_batch_delay_ms: float = 5.0, max_queue: int = 256,
                 max_queue_bytes: int = 1 << 30, keep_batch_sizes: bool = False):
        self.predictor = predictor
        self.delay_s = max(0.0, max_batch_delay_ms) / 1000.0
        self.max_queue = max_queue
        self.max_queue_bytes = max_queue_bytes
        self.stats = EngineStats()
        self._keep_sizes = keep_batch_sizes
        predictor.runner = BatchObserver(predictor.runner, self._on_batch)
        self._queue: "queue.SimpleQueue" = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pending = 0                  # admitted, not yet answered
        self._pending_bytes = 0
        self._stopping = False
        self._thread: Optional[threading.Thread] = None
        self.model_info = model_info(predictor)

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="agegender-serve-batcher", daemon=True)
            self._thread.start()

    async def stop(self) -> None:
        """Finish what was admitted, then close the Predictor (graceful shutdown)."""
        self._stopping = True
        if self._thread is not None:
            self._queue.put(self._STOP)
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        while True:                        # admitted after the stream ended: answer, never drop
            try:
                work = self._queue.get_nowait()
            except queue.Empty:
                break
            if work is not self._STOP:
                self._deliver(work, ShuttingDownError("the server is shutting down"))
        self.predictor.close()

    def ready(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopping

    def queue_depth(self) -> int:
        return self._pending

    # -- requests (event-loop thread) -----------------------------------------------------
    async def predict(self, images: Sequence[tuple[str, bytes]]) -> list[ImageResult]:
        loop = asyncio.get_running_loop()
        works = [_Work(data, name, loop.create_future(), loop, len(data)) for name, data in images]
        nbytes = sum(w.nbytes for w in works)
        with self._lock:
            if self._stopping:
                raise ShuttingDownError("the server is shutting down")
            if self._pending + len(works) > self.max_queue or self._pending_bytes + nbytes > self.max_queue_bytes:
                raise QueueFullError(f"{self._pending} images are waiting (limit {self.max_queue})")
            self._pending += len(works)
            self._pending_bytes += nbytes
        for w in works:
            self._queue.put(w)
        try:
            return list(await asyncio.gather(*(w.future for w in works)))
        finally:
            for w in works:                # timed out / client gone: its image is skipped if still queued
                if not w.future.done():
                    w.future.cancel()

    # -- the batcher thread ---------------------------------------------------------------
    def _on_batch(self, n: int) -> None:
        self.stats.inference_calls += 1
        self.stats.inference_faces += n
        if self._keep_sizes:
            self.stats.batch_sizes.append(n)
        self._notify_batch(n)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is self._STOP:
                return
            handed: deque = deque()
            stop_seen = [False]
            self.stats.streams += 1
            try:
                for result in self.predictor.predict_iter(self._stream(first, handed, stop_seen)):
                    work = handed.popleft()
                    self.stats.images += 1
                    self.stats.faces += len(result.faces)
                    self._deliver(work, rename_result(result, work.index, work.name))
            except Exception as exc:       # a failure of the pipeline itself: answer what it held
                log.exception("inference stream failed")
                while handed:
                    self._deliver(handed.popleft(), exc)
            if stop_seen[0]:
                return

    def _stream(self, first: _Work, handed: deque, stop_seen: list) -> Iterator[bytes]:
        """Admitted images in order, for predict_iter; ends once none arrives within the delay."""
        index = 0
        work = first
        while True:
            if work is self._STOP:
                stop_seen[0] = True
                return
            if work.future.done():         # cancelled (timeout, client gone) before it started
                self._release(work)
            else:
                work.index = index
                index += 1
                handed.append(work)
                yield work.data
                work.data = b""            # the pipeline holds its own reference while it needs it
            try:
                work = self._queue.get(timeout=self.delay_s) if self.delay_s else self._queue.get_nowait()
            except queue.Empty:
                return

    def _release(self, work: _Work) -> None:
        with self._lock:
            self._pending -= 1
            self._pending_bytes -= work.nbytes

    def _deliver(self, work: _Work, outcome) -> None:
        self._release(work)
        work.loop.call_soon_threadsafe(_settle, work.future, outcome)


def _settle(future: asyncio.Future, outcome) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
