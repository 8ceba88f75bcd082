"""Model-only timing: each target at each batch size on real faces."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

from ..metadata import ModelMetadata
from .inputs import FaceSet, load_faces
from .stats import summarize
from .targets import Target, TargetUnavailable
from .timing import Budget, run_timed

# (label, batch size, calls done, seconds elapsed) -> None
Progress = Callable[[str, int, int, float], None]


def bench_target(target: Target, faces_source: Optional[Path], batch_sizes: Sequence[int], warmup: Budget,
                 measure: Budget, progress: Optional[Progress] = None,
                 face_loader: Optional[Callable[[ModelMetadata], FaceSet]] = None,
                 face_limit: int = 256) -> tuple[list[dict], Optional[dict]]:
    """Rows (one per batch size) for one target, or ([], skipped-entry) when it cannot run here.

    Faces: ``face_loader(metadata)`` when given (same faces for every target, at each model's
    input size), else ``load_faces(faces_source, ...)``."""
    try:
        meta = target.open()
    except TargetUnavailable as exc:
        return [], {"target": target.label, "backend": target.backend, "reason": str(exc)}
    rows = []
    try:
        face_set = face_loader(meta) if face_loader else load_faces(faces_source, meta, limit=face_limit)
        for bs in batch_sizes:
            batch = face_set.batch(meta, bs)
            hook = (lambda done, el, _bs=bs: progress(target.label, _bs, done, el)) if progress else None
            samples = run_timed(lambda: target.infer(batch), warmup, measure, hook)
            stats = summarize(samples, bs)
            rows.append({**target.info(), "batch_size": bs, "input_size": list(meta.input.size),
                         "architecture": meta.architecture, "faces": face_set.source, "faces_kind": face_set.kind,
                         **stats.to_dict()})
    finally:
        target.close()
    return rows, None


TIMING_FIELDS = ("min_ms", "mean_ms", "median_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "std_ms", "items_per_s")


def merge_repeats(runs: list[list[dict]]) -> list[dict]:
    """Rows of several repeated runs -> one row per (label, batch size) holding the MEDIAN of each
    timing field over the repeats, plus ``repeats`` and the per-repeat ``items_per_s_repeats``."""
    from .stats import median

    keyed: dict = {}
    for rows in runs:
        for r in rows:
            keyed.setdefault((r["label"], r["batch_size"]), []).append(r)
    out = []
    for rs in keyed.values():
        row = dict(rs[0])
        for k in TIMING_FIELDS:
            row[k] = median([r[k] for r in rs])
        row["n"] = int(median([r["n"] for r in rs]))
        row["repeats"] = len(rs)
        row["items_per_s_repeats"] = [round(r["items_per_s"], 2) for r in rs]
        out.append(row)
    return out
