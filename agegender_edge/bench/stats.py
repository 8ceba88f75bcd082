"""Latency statistics: samples in seconds -> a summary in milliseconds plus throughput."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

PERCENTILES = (50, 90, 95, 99)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of already-sorted values, linear interpolation between the
    closest ranks (numpy's default "linear" method)."""
    n = len(sorted_values)
    if n == 0:
        raise ValueError("percentile of an empty sample")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be in [0, 100], not {q}")
    pos = (n - 1) * q / 100.0
    lo = int(math.floor(pos))
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


@dataclass(frozen=True)
class LatencyStats:
    """One timed configuration. Latencies in milliseconds (per call = per batch).

    ``items_per_s`` = items per call * calls / total measured time (faces/s or images/s).
    """

    n: int
    items_per_call: int
    min_ms: float
    mean_ms: float
    median_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    std_ms: float
    total_s: float
    items_per_s: float

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(samples_s: Sequence[float], items_per_call: int = 1) -> LatencyStats:
    """Summarise per-call durations (seconds)."""
    if len(samples_s) == 0:
        raise ValueError("no samples to summarise")
    if items_per_call < 1:
        raise ValueError("items_per_call must be >= 1")
    if any(s < 0 or not math.isfinite(s) for s in samples_s):
        raise ValueError("samples must be finite, non-negative durations")
    xs = sorted(float(s) for s in samples_s)
    n = len(xs)
    total = math.fsum(xs)
    mean = total / n
    var = math.fsum((x - mean) ** 2 for x in xs) / (n - 1) if n > 1 else 0.0
    ms = 1e3
    return LatencyStats(
        n=n, items_per_call=items_per_call,
        min_ms=xs[0] * ms, mean_ms=mean * ms, median_ms=percentile(xs, 50) * ms,
        p90_ms=percentile(xs, 90) * ms, p95_ms=percentile(xs, 95) * ms, p99_ms=percentile(xs, 99) * ms,
        max_ms=xs[-1] * ms, std_ms=math.sqrt(var) * ms, total_s=total,
        items_per_s=(items_per_call * n / total) if total > 0 else float("inf"),
    )


def median(values: Sequence[float]) -> float:
    xs = sorted(values)
    if not xs:
        raise ValueError("median of an empty sequence")
    return percentile(xs, 50)
