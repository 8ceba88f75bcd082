"""Whole-pipeline timing on photos: a per-stage split and the streamed throughput.

Per-stage split (one thread, stages run one after another, each timed): decode (file -> BGR),
detect (detector incl. its downscale), crop (chip cut + resize + NCHW buffer write),
inference (network, per batch, shared by its images), postprocess (outputs -> results).

Streamed: ``Predictor.predict_iter`` as users call it, where decode/detect/crop of the next
images overlap inference of the current batch on worker threads; images/s = images / wall time.
The two differ by exactly that overlap, so the split shows where the time goes and the
streamed figure shows what a folder of photos really gets.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from .stats import summarize

STAGES = ("decode", "detect", "crop", "inference", "postprocess")


def stage_split(predictor, images: Sequence[Path], rounds: int = 1) -> dict:
    """Per-image milliseconds for each stage, ``rounds`` passes over ``images``."""
    from ..decode import decode_outputs
    from ..imageio import load_image
    from ..preprocess import InputBatch, face_input
    from ..results import BoundingBox, FaceResult

    meta, det, runner = predictor.metadata, predictor.detector, predictor.runner
    clock = time.perf_counter
    cap = predictor.batch_size
    batch = InputBatch(meta, cap)
    pending: list = []   # (detection, crop box) of the faces in the batch buffer
    per_image: dict[str, list[float]] = {"decode": [], "detect": [], "crop": []}
    totals = {"inference": 0.0, "postprocess": 0.0}
    n_images = n_faces = 0

    def flush() -> float:
        """Run the buffered faces; returns the seconds spent (kept out of the crop time)."""
        if not pending:
            return 0.0
        t0 = clock()
        out = runner.infer(batch.filled)
        t1 = clock()
        for (d, crop), fields in zip(pending, decode_outputs(out, meta)):
            FaceResult(box=BoundingBox(d.x, d.y, d.width, d.height), crop_box=crop,
                       detection_score=d.score, landmarks=d.landmarks, **fields)
        t2 = clock()
        totals["inference"] += t1 - t0
        totals["postprocess"] += t2 - t1
        pending.clear()
        batch.clear()
        return t2 - t0

    for _ in range(rounds):
        for i, path in enumerate(images):
            t0 = clock()
            bgr = load_image(path, None, predictor.max_pixels, i).bgr
            t1 = clock()
            found = det.detect(bgr)
            t2 = clock()
            flushed = 0.0
            for d in found:
                if batch.count == cap:
                    flushed += flush()
                face, crop, _aligned = face_input(bgr, d, det.calibration, meta)   # box rule or alignment
                batch.add(face)
                pending.append((d, BoundingBox(*crop)))
            t3 = clock()
            per_image["decode"].append(t1 - t0)
            per_image["detect"].append(t2 - t1)
            per_image["crop"].append(max(0.0, t3 - t2 - flushed))
            n_faces += len(found)
            n_images += 1
        flush()
    stages: dict[str, dict] = {}
    for s in ("decode", "detect", "crop"):
        st = summarize(per_image[s])
        stages[s] = {"mean_ms": st.mean_ms, "median_ms": st.median_ms, "p90_ms": st.p90_ms, "p99_ms": st.p99_ms}
    for s in ("inference", "postprocess"):
        stages[s] = {"mean_ms": 1e3 * totals[s] / n_images}
    total = sum(v["mean_ms"] for v in stages.values())
    for v in stages.values():
        v["share"] = v["mean_ms"] / total if total else 0.0
    return {"images": n_images, "faces": n_faces, "faces_per_image": n_faces / max(1, n_images),
            "stages": stages, "sequential_ms_per_image": total,
            "sequential_images_per_s": 1e3 / total if total else float("inf")}


def streamed(predictor, images: Sequence[Path], min_seconds: float = 2.0, chunk: Optional[int] = None,
             progress: Optional[Callable[[int, float], None]] = None, expected_rate: Optional[float] = None) -> dict:
    """Images/s of ONE ``predict_iter`` stream over ``images`` cycled to last about ``min_seconds``
    (one stream, so the overlap of preparation and inference is never reset between passes).
    ``expected_rate`` (images/s, e.g. from the sequential split) sizes the stream; without it
    a first short stream measures it."""
    import itertools

    if not images:
        raise ValueError("no images to stream")
    if expected_rate is None:
        probe = streamed(predictor, images, 0.0, chunk, None, expected_rate=float(len(images)))
        expected_rate = probe["images_per_s"]
    total = max(len(images), int(expected_rate * min_seconds))
    done = faces = 0
    busy0 = predictor.inference_seconds
    t0 = time.perf_counter()
    for res in predictor.predict_iter(itertools.islice(itertools.cycle(images), total), chunk=chunk):
        done += 1
        faces += len(res.faces)
        if progress and done % 16 == 0:
            progress(done, time.perf_counter() - t0)
    elapsed = time.perf_counter() - t0
    return {"images": done, "faces": faces, "seconds": elapsed,
            "images_per_s": done / elapsed, "faces_per_s": faces / elapsed, "chunk": chunk or predictor.read_ahead,
            "network_busy": (predictor.inference_seconds - busy0) / elapsed}


def end_to_end(predictor, inputs: Sequence, kind: str = "photos", min_seconds: float = 2.0,
               warmup: bool = True) -> dict:
    """What a user gets: files in, results out, decode included, timed over whole calls.

    ``kind`` "faces": ``predict_faces(inputs)`` (face chips, no detection), one call per pass;
    "photos": one ``predict_iter`` stream over the inputs. Passes repeat until ``min_seconds``.
    Reports items/s, faces/s and ``network_busy``: the share of the wall time the network was
    inside an inference call (Runner.busy_seconds), i.e. how well preparation kept it fed."""
    if not inputs:
        raise ValueError("no inputs to time")
    if kind not in ("faces", "photos"):
        raise ValueError(f"kind must be 'faces' or 'photos', not {kind!r}")
    inputs = list(inputs)

    def one_pass() -> int:
        if kind == "faces":
            return sum(len(r.faces) for r in predictor.predict_faces(inputs))
        return sum(len(r.faces) for r in predictor.predict_iter(inputs))

    if warmup:
        one_pass()
    busy0, calls0 = predictor.inference_seconds, predictor.inference_calls
    items = faces = 0
    t0 = time.perf_counter()
    while True:
        faces += one_pass()
        items += len(inputs)
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds:
            break
    busy = predictor.inference_seconds - busy0
    return {"kind": kind, "items": items, "faces": faces, "seconds": elapsed,
            "items_per_s": items / elapsed, "faces_per_s": faces / elapsed,
            "network_busy": busy / elapsed, "network_seconds": busy,
            "inference_calls": predictor.inference_calls - calls0,
            "batch_size": predictor.batch_size, "threads": predictor.threads.describe(),
            "intra_op_threads": predictor.threads.intra_op_threads, "prep_workers": predictor.workers,
            "pipelined": predictor.pipelined}
