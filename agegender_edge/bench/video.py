"""End-to-end video timing (``agegender-edge bench --video FILE``, benchmarks/video_bench.py).

One warm-up pass over the first frames (sessions, detector nets, page cache), then
``Predictor.predict_video`` over the whole file as users call it: decode on the reader thread,
detection on the detector thread, crop + inference batched across frames on the caller's thread.

* frames/s = frames / wall time of the whole run;
* per-frame latency = from the moment a frame was decoded to the moment its FrameResult was
  yielded (the cross-frame batching window is part of it: ``max_delay_frames`` bounds it);
* inference batches: faces per ``predict_detected`` flush (the faces of up to
  ``max_delay_frames`` frames) and the network calls they took (a flush larger than the batch
  size takes several), so the figure says how well the batching filled the network.
"""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Optional

from .stats import percentile


def bench_video(predictor, path: Path, *, every: int = 1, max_delay_frames: int = 4,
                max_frames: Optional[int] = None, warmup_frames: int = 8,
                detect_max_side: Optional[int] = None) -> dict:
    """Time one run over ``path``; a JSON-ready dict."""
    with predictor.predict_video(path, max_frames=warmup_frames, every=every, detect_max_side=detect_max_side) as warm:
        for _ in warm:
            pass
    t0 = time.perf_counter()
    with predictor.predict_video(path, every=every, max_delay_frames=max_delay_frames, max_frames=max_frames,
                                 detect_max_side=detect_max_side) as s:
        n = width = height = faces = 0
        for r in s:
            n += 1
            faces += len(r.faces)
            width, height = r.width or width, r.height or height
        wall = time.perf_counter() - t0
        stats = s.stats
        tracks = len(s.summary())
    lat = sorted(stats.latency_ms)
    flushes = Counter(stats.faces_per_flush)
    return {
        "video": str(path), "width": width, "height": height, "frames": n, "every": every,
        "max_delay_frames": max_delay_frames, "seconds": wall, "frames_per_s": n / wall if wall > 0 else 0.0,
        "faces_per_frame": faces / max(n, 1), "tracks": tracks,
        "latency_ms": {f"p{q}": percentile(lat, q) for q in (50, 90, 99)} if lat else {},
        "latency_ms_max": lat[-1] if lat else None,
        "frames_detected": stats.frames_detected, "frames_skipped": stats.frames_skipped,
        "inference_flushes": stats.inference_flushes, "inference_calls": stats.inference_calls,
        "faces_per_flush": {str(k): v for k, v in sorted(flushes.items())},
        "mean_faces_per_inference_call": stats.faces / stats.inference_calls if stats.inference_calls else 0.0,
        "model": str(predictor.model_path.name), "detector": predictor.detector.describe(),
        "detect_max_side": detect_max_side or predictor.detector.max_side, "batch_size": predictor.batch_size,
        "threads": predictor.threads.describe() if hasattr(predictor, "threads") else None,
    }


def video_table(rows: list[dict]) -> str:
    head = (f"{'video':28s} {'size':>9s} {'det px':>6s} {'every':>5s} {'frames':>6s} {'faces/fr':>8s} {'frames/s':>9s} "
            f"{'p50 ms':>7s} {'p90 ms':>7s} {'p99 ms':>7s} {'faces/call':>10s}  faces per flush")
    lines = ["video (end to end: decode, detect, track, crop, inference, smoothing)", head]
    for r in rows:
        name = Path(r["video"]).name
        name = name if len(name) <= 28 else "..." + name[-25:]
        lat = r["latency_ms"]
        hist = " ".join(f"{k}x{v}" for k, v in r["faces_per_flush"].items())
        det_px = min(r["detect_max_side"] or 10 ** 6, max(r["width"], r["height"]))
        lines.append(f"{name:28s} {r['width']:>4d}x{r['height']:<4d} {det_px:>6d} {r['every']:>5d} {r['frames']:>6d} "
                     f"{r['faces_per_frame']:>8.2f} {r['frames_per_s']:>9.1f} {lat.get('p50', float('nan')):>7.1f} "
                     f"{lat.get('p90', float('nan')):>7.1f} {lat.get('p99', float('nan')):>7.1f} "
                     f"{r['mean_faces_per_inference_call']:>10.1f}  {hist}")
    return "\n".join(lines)


def run_videos(model: Optional[Path], videos, every_values, detector: str, detect_max_side: Optional[int], batch: int,
               ort_opts, device: str) -> list[dict]:
    """``bench --video``: one Predictor, every video x every ``every`` value."""
    from ..predictor import Predictor

    kwargs = {} if detect_max_side is None else {"detect_max_side": detect_max_side}
    rows = []
    with Predictor(model, backend="onnxruntime", device=device, detector=detector, batch_size=batch,
                   ort_options=ort_opts, **kwargs) as p:
        for v in videos:
            for k in every_values:
                rows.append(bench_video(p, Path(v), every=k))
    return rows
