"""The runner interface every backend implements."""
from __future__ import annotations

import abc
import time
from typing import Optional

import numpy as np

from ..metadata import OUTPUT_EMBEDDING, OUTPUT_NAMES, ModelMetadata


class Runner(abc.ABC):
    """Runs the exported age/gender network on NCHW float32 batches.

    ``infer`` returns the outputs named in metadata.OUTPUT_NAMES, float32, batch-first, the same
    layout for every backend, plus the face descriptor ``embedding`` [N, D] when the model has it
    (``output_names``; metadata ``embedding``) — the same network pass, no second one. ``calls`` counts inference calls (one per batch) and
    ``busy_seconds`` the wall time spent inside them (how busy the network was, for benchmarks).
    """

    name = "runner"

    def __init__(self) -> None:
        self.is_active = False
        self.calls = 0
        self.busy_seconds = 0.0

    @property
    @abc.abstractmethod
    def metadata(self) -> ModelMetadata:
        ...

    @property
    def output_names(self) -> tuple[str, ...]:
        """The outputs ``infer`` returns: the five, then ``embedding`` when the model has one."""
        return OUTPUT_NAMES + ((OUTPUT_EMBEDDING,) if self.metadata.embedding is not None else ())

    @property
    def max_batch_size(self) -> Optional[int]:
        """Largest batch one call accepts (None: unlimited); bigger batches are split by the caller."""
        return None

    def activate(self) -> "Runner":
        if not self.is_active:
            self._activate()
            self.is_active = True
        return self

    def deactivate(self) -> None:
        if self.is_active:
            self._deactivate()
            self.is_active = False

    def infer(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        if not self.is_active:
            raise RuntimeError(f"{self.name} runner is not active; call activate() or use it as a context manager")
        h, w = self.metadata.input.size
        if batch.ndim != 4 or batch.shape[1:] != (3, h, w) or batch.dtype != np.float32:
            raise ValueError(f"{self.name}: expected float32 [N,3,{h},{w}], got {batch.dtype} {list(batch.shape)}")
        self.calls += 1
        t0 = time.perf_counter()
        out = self._infer(np.ascontiguousarray(batch))
        self.busy_seconds += time.perf_counter() - t0
        return {name: out[name] for name in self.output_names}

    @abc.abstractmethod
    def _activate(self) -> None: ...

    @abc.abstractmethod
    def _deactivate(self) -> None: ...

    @abc.abstractmethod
    def _infer(self, batch: np.ndarray) -> dict[str, np.ndarray]: ...

    def describe(self) -> str:
        return self.name

    def __enter__(self) -> "Runner":
        return self.activate()

    def __exit__(self, *exc) -> None:
        self.deactivate()
