"""One Predictor turning sources (paths or object-storage URIs) into label rows; both engines use it."""
from __future__ import annotations

import dataclasses
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, Optional, Sequence

from ..results import ImageResult
from .remote import RemoteReader, is_uri
from .schema import rows_from_result
from .settings import PredictorSettings

REMOTE_READ_AHEAD = 16   # object-store reads in flight: latency-bound, so overlap them


class ResultLabeller:
    def __init__(self, settings: PredictorSettings):
        self.predictor = settings.build()
        meta = self.predictor.metadata
        self._model = (meta.name, meta.weights_sha256, self.predictor.detector.describe())
        self._reader = None   # RemoteReader + threads, made when the first URI shows up
        self._pool = None

    def rows(self, sources: Sequence[str], chunk: Optional[int] = None) -> Iterator[list[dict]]:
        """The rows of each source, in order, one image at a time (streamed); ``chunk``: images
        read ahead (None: the Predictor's default)."""
        name, sha, detector = self._model
        read_errors: dict[int, str] = {}
        items = self._items(sources, read_errors)
        results = self.predictor.predict_iter(items, **({"chunk": chunk} if chunk else {}))
        for i, (source, result) in enumerate(zip(sources, results)):
            if i in read_errors:   # the object could not be fetched: an error row, like a missing file
                result = ImageResult(source=source, error=read_errors.pop(i), error_type="InvalidImageError")
            elif is_uri(source):   # decoded from bytes: name the URI instead of "<bytes i>"
                result = dataclasses.replace(result, source=source, error=result.error and result.error.replace(
                    result.source, source, 1))
            elif result.source != source:  # predict_iter keeps input order; a row never gets another's name
                raise RuntimeError(f"predict_iter returned {result.source!r} where {source!r} was expected")
            yield rows_from_result(result, source, name, sha, detector)

    def _items(self, sources: Sequence[str], read_errors: dict[int, str]) -> Iterator[object]:
        """Local paths as they are (the Predictor reads them); URIs as their bytes, fetched ahead."""
        window: deque = deque()
        limit = self.predictor.max_batch_bytes

        def drain_one():
            index, future = window.popleft()
            try:
                return future.result()
            except (OSError, ValueError) as exc:
                read_errors[index] = str(exc)
                return b""   # stands in for the unreadable object; its row is replaced above

        for i, source in enumerate(sources):
            if not is_uri(source):
                while window:
                    yield drain_one()
                yield source
                continue
            if self._pool is None:
                self._reader, self._pool = RemoteReader(), ThreadPoolExecutor(REMOTE_READ_AHEAD, "agegender-fetch")
            window.append((i, self._pool.submit(self._reader.read, source, limit)))
            if len(window) >= REMOTE_READ_AHEAD:
                yield drain_one()
        while window:
            yield drain_one()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self.predictor.close()
