"""Dynamic-batch optimisation profile (min / opt / max) and batch splitting.

TensorRT engines accept any batch in [min, max] of the profile they were built with and are
tuned for ``opt``; a bigger request is split into chunks of at most ``max``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional


@dataclass(frozen=True)
class BatchProfile:
    min: int = 1
    opt: int = 16
    max: int = 32

    def __post_init__(self) -> None:
        for k in ("min", "opt", "max"):
            v = getattr(self, k)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"batch profile {k} must be a positive integer, not {v!r}")
        if not self.min <= self.opt <= self.max:
            raise ValueError(f"batch profile needs min <= opt <= max, got {self.min}/{self.opt}/{self.max}")

    @classmethod
    def for_max_batch(cls, max_batch: int) -> "BatchProfile":
        """Default profile for a runtime batch size: tuned at the batch the Predictor sends."""
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        return cls(1, max_batch, max_batch)

    @classmethod
    def from_values(cls, min_batch: Optional[int] = None, opt_batch: Optional[int] = None,
                    max_batch: Optional[int] = None, base: Optional["BatchProfile"] = None) -> "BatchProfile":
        """Flags override ``base`` (a recipe's profile); a missing opt is clamped into [min, max]."""
        b = base or cls()
        mx = max_batch if max_batch is not None else b.max
        mn = min_batch if min_batch is not None else min(b.min, mx)
        op = opt_batch if opt_batch is not None else min(max(b.opt, mn), mx)
        return cls(mn, op, mx)

    def shapes(self, input_size: tuple[int, int], channels: int = 3) -> dict[str, tuple[int, ...]]:
        h, w = input_size
        return {k: (getattr(self, k), channels, h, w) for k in ("min", "opt", "max")}

    def contains(self, batch: int) -> bool:
        return self.min <= batch <= self.max

    def chunks(self, n: int) -> Iterator[tuple[int, int]]:
        """(start, stop) slices of an n-face request, each within the profile.

        The last chunk may be smaller than ``min`` only if min > 1; then it is padded by the
        caller (see ``padded_size``)."""
        for s in range(0, n, self.max):
            yield s, min(n, s + self.max)

    def padded_size(self, batch: int) -> int:
        """Batch to run for ``batch`` faces: at least ``min`` (extra rows are zero and dropped)."""
        if batch > self.max:
            raise ValueError(f"batch {batch} exceeds profile max {self.max}; split it first")
        return max(batch, self.min)

    def as_dict(self) -> dict[str, int]:
        return {"min": self.min, "opt": self.opt, "max": self.max}

    def trtexec_shapes(self, input_name: str, input_size: tuple[int, int]) -> dict[str, str]:
        return {k: f"{input_name}:{'x'.join(str(d) for d in s)}" for k, s in self.shapes(input_size).items()}
