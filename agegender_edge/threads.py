"""The thread budget of a Predictor: ONNX Runtime intra-op threads + preparation workers.

Inference and preparation (decode, detect, crop) run at the same time inside every call, so
their threads add up: ORT's default (one intra-op thread per core) plus two prep workers put
4 busy threads on a 2-core machine, and the spinning ORT threads then steal the cores the
workers need. The plan splits the usable cores (``os.sched_getaffinity``: what this process
may run on, not what the machine has) between the two, never more threads than cores.

The split was measured on 2 cores (benchmarks/thread_split.py, docs/BENCHMARKS.md): 1 intra-op
thread + 1 prep worker gave the highest end-to-end faces/s on chips and on photos; on more
cores half of them prepare (detection is the costliest stage on photos) and half infer.
Either number can be given explicitly (``Predictor(workers=, ort_options=OrtOptions(
intra_op_threads=))``); the other then takes the remaining cores.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional


def usable_cores() -> int:
    """Cores this process may run on (CPU affinity, cgroup-pinned containers included)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ThreadPlan:
    cores: int
    intra_op_threads: int     # ONNX Runtime threads for one inference call
    prep_workers: int         # decode / detect / crop threads

    def describe(self) -> str:
        return (f"{self.intra_op_threads} inference thread(s) + {self.prep_workers} prep worker(s) "
                f"on {self.cores} core(s)")


def plan_threads(cores: Optional[int] = None, workers: Optional[int] = None,
                 intra_op_threads: Optional[int] = None) -> ThreadPlan:
    """Split ``cores`` (default: usable_cores()) between inference and preparation.

    ``workers`` / ``intra_op_threads``: explicit choices (None or 0 = choose); an explicit
    value is kept even when the two together exceed the cores (the caller asked for it)."""
    cores = max(1, cores or usable_cores())
    if workers is not None and workers < 1:
        raise ValueError("workers must be >= 1 (or None to choose from the core count)")
    if intra_op_threads is not None and intra_op_threads < 0:
        raise ValueError("intra_op_threads must be >= 0 (0 or None = choose from the core count)")
    intra = intra_op_threads or None
    if workers is None and intra is None:
        workers = max(1, cores // 2)
        intra = max(1, cores - workers)
    elif workers is None:
        workers = max(1, cores - intra)
    elif intra is None:
        intra = max(1, cores - workers)
    return ThreadPlan(cores=cores, intra_op_threads=intra, prep_workers=workers)
