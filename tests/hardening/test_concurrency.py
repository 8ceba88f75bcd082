"""Concurrency (issue #7, item 3): one Predictor shared by 8 threads gives, call for call, exactly
the single-threaded outputs. Predictor is thread-safe: inference runs under a per-Predictor lock,
decode / detect / crop run on its worker pool, detectors keep one OpenCV object per thread."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

THREADS, CALLS = 8, 200


def _hammer(fn, n_threads: int, calls: int):
    """Run fn(thread, k) for k < calls on n_threads threads, all released at once; list of
    (thread, k, output) and the exceptions raised."""
    barrier = threading.Barrier(n_threads)
    out, errs = [], []

    def worker(t):
        barrier.wait()
        try:
            for k in range(calls):
                out.append((t, k, fn(t, k)))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errs.append(exc)

    with ThreadPoolExecutor(n_threads) as ex:
        list(ex.map(worker, range(n_threads)))
    return out, errs


@pytest.fixture(scope="module")
def shared_predictor(model_path):
    """Default ONNX Runtime options (intra-op threads = cores), as a user would create it."""
    from agegender_edge.predictor import Predictor

    with Predictor(model_path, backend="onnxruntime", device="cpu", detector=None) as p:
        yield p


def test_8_threads_x_200_calls_equal_single_threaded(shared_predictor, face_paths):
    predictor = shared_predictor
    items = [p.read_bytes() for p in face_paths]            # real UTKFace faces, decoded on every call
    single = [predictor.predict_faces(x) for x in items]
    assert all(r.ok and len(r.faces) == 1 for r in single)
    calls_before = predictor.inference_calls

    def call(t, k):
        i = (t * 31 + k * 7) % len(items)
        return i, predictor.predict_faces(items[i])

    out, errs = _hammer(call, THREADS, CALLS)
    assert not errs, errs[:3]
    assert len(out) == THREADS * CALLS
    mismatches = [(t, k, i) for t, k, (i, r) in out
                  if r.faces != single[i].faces or r.error is not None or r.source != single[i].source]
    assert not mismatches, f"{len(mismatches)} outputs differ from single-threaded, e.g. {mismatches[:5]}"
    assert predictor.inference_calls - calls_before == THREADS * CALLS


def test_threads_share_the_full_pipeline(haar_predictor, canvas_paths, face_paths):
    """Detector + crop + batch inference from 4 threads: same faces as single-threaded, including
    batched calls mixing several images."""
    batch = [str(canvas_paths[0]), str(face_paths[5])]
    single = haar_predictor.predict(batch)
    assert len(single[0].faces) >= 4

    def call(t, k):
        return haar_predictor.predict(batch if (t + k) % 2 == 0 else batch[::-1])

    out, errs = _hammer(call, 4, 2)
    assert not errs, errs[:3]
    for t, k, res in out:
        res = res if (t + k) % 2 == 0 else res[::-1]
        assert [r.faces for r in res] == [r.faces for r in single]
