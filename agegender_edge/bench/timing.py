"""Timing loop: warm-up by count or time, then a fixed number of iterations or a duration.

Specs are strings so the CLI and scripts share one syntax: "10" = 10 calls, "2s" = 2 seconds,
"500ms" = half a second.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Callable, Optional

_SPEC = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|ms)?\s*$")


@dataclass(frozen=True)
class Budget:
    """``count`` calls, or calls until ``seconds`` have passed (exactly one is set)."""

    count: Optional[int] = None
    seconds: Optional[float] = None
    min_count: int = 1       # a duration budget still makes at least this many calls

    def __post_init__(self):
        if (self.count is None) == (self.seconds is None):
            raise ValueError("a budget is a count or a duration, exactly one of them")
        if self.count is not None and self.count < 0:
            raise ValueError("count must be >= 0")
        if self.seconds is not None and self.seconds < 0:
            raise ValueError("duration must be >= 0")

    @classmethod
    def parse(cls, spec: str, min_count: int = 1) -> "Budget":
        """"20" -> 20 calls; "2s" / "2.5s" -> seconds; "500ms" -> 0.5 s."""
        m = _SPEC.match(str(spec))
        if not m:
            raise ValueError(f"{spec!r} is not a count (e.g. 20) or a duration (e.g. 2s, 500ms)")
        value, unit = m.group(1), m.group(2)
        if unit is None:
            if "." in value:
                raise ValueError(f"{spec!r}: a count must be a whole number (add 's' for seconds)")
            return cls(count=int(value), min_count=min_count)
        return cls(seconds=float(value) / (1000.0 if unit == "ms" else 1.0), min_count=min_count)

    def describe(self) -> str:
        return f"{self.count} calls" if self.count is not None else f"{self.seconds:g} s"

    def to_dict(self) -> dict:
        return {"count": self.count, "seconds": self.seconds}


ProgressHook = Callable[[int, float], None]   # (calls done, seconds elapsed)


def run_timed(fn: Callable[[], object], warmup: Budget, measure: Budget,
              progress: Optional[ProgressHook] = None, clock: Callable[[], float] = time.perf_counter
              ) -> list[float]:
    """Call ``fn`` for the warm-up budget (not recorded), then for the measured budget;
    returns one duration in seconds per measured call."""
    _loop(fn, warmup, None, clock, record=False)
    return _loop(fn, measure, progress, clock, record=True)


def _loop(fn, budget: Budget, progress, clock, record: bool) -> list[float]:
    samples: list[float] = []
    start = clock()
    done = 0
    while True:
        if budget.count is not None:
            if done >= budget.count:
                break
        elif done >= budget.min_count and clock() - start >= budget.seconds:
            break
        t0 = clock()
        fn()
        t1 = clock()
        done += 1
        if record:
            samples.append(t1 - t0)
        if progress is not None:
            progress(done, t1 - start)
    return samples
