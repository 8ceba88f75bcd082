"""The pipelined Predictor (issue 12): same outputs as the unpipelined reference path, input
order, lazy generators, per-image errors, thread budget. Real model, real detectors, real photos.
No timing is asserted (figures live in benchmarks/results)."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from agegender_edge import Predictor
from agegender_edge.detection.base import Detection
from agegender_edge.threads import usable_cores

from .conftest import FIXTURES, YUNET


def _max_diff(a, b) -> float:
    """Largest absolute difference over every number of two lists of ImageResults (and the
    same faces, boxes and errors in both)."""
    assert len(a) == len(b)
    worst = 0.0
    for ra, rb in zip(a, b):
        assert (ra.source, ra.error, ra.width, ra.height) == (rb.source, rb.error, rb.width, rb.height)
        assert len(ra.faces) == len(rb.faces)
        for fa, fb in zip(ra.faces, rb.faces):
            assert fa.box == fb.box and fa.crop_box == fb.crop_box and fa.gender == fb.gender
            worst = max(worst, abs(fa.gender_probability - fb.gender_probability), abs(fa.age - fb.age),
                        abs(fa.age_std - fb.age_std),
                        max(abs(fa.age_group_probs[k] - fb.age_group_probs[k]) for k in fa.age_group_probs))
    return worst


@pytest.fixture(scope="module")
def pair(shipped_model):
    """The same model pipelined and unpipelined, small batches so calls span several batches."""
    with Predictor(shipped_model, device="cpu", detector=f"yunet:{YUNET}", batch_size=5) as fast, \
            Predictor(shipped_model, device="cpu", detector=f"yunet:{YUNET}", batch_size=5, pipelined=False) as ref:
        yield fast, ref


def test_pipelined_equals_reference_on_fixture_faces(pair, faces_48):
    fast, ref = pair
    paths = [r["path"] for r in faces_48]            # 48 faces: 9 full batches + a partial one
    calls = fast.inference_calls
    got, want = fast.predict_faces(paths), ref.predict_faces(paths)
    assert all(r.ok and len(r.faces) == 1 for r in got)
    assert _max_diff(got, want) < 1e-6
    assert fast.inference_calls - calls == math.ceil(48 / 5)
    streamed = list(fast.predict_iter(iter(paths), detector=fast._whole))
    assert _max_diff(streamed, want) < 1e-6


def test_pipelined_equals_reference_on_photos_with_detection(pair, canvases, faces_48):
    fast, ref = pair
    images = [FIXTURES / c["image"] for c in canvases] + [faces_48[0]["path"]]
    got, want = fast.predict(images), ref.predict(images)
    assert sum(len(r.faces) for r in got) >= 12
    assert _max_diff(got, want) < 1e-6
    dets = [[f.to_detection() if hasattr(f, "to_detection") else
             Detection(f.box.x, f.box.y, f.box.width, f.box.height, f.detection_score, f.landmarks)
             for f in r.faces] for r in got]
    again, again_ref = fast.predict_detected(images, dets), ref.predict_detected(images, dets)
    assert _max_diff(again, again_ref) < 1e-6
    # the given detections are the detector's own: the same faces come out
    assert _max_diff(again, got) < 1e-6


def test_order_kept_and_bad_images_do_not_stall(shipped_model, faces_48, tmp_path):
    bad = tmp_path / "truncated.jpg"
    bad.write_bytes(faces_48[0]["path"].read_bytes()[:500])
    paths = [r["path"] for r in faces_48[:20]]
    items = paths[:7] + [bad, tmp_path / "missing.jpg"] + paths[7:] + [b"not an image"]
    with Predictor(shipped_model, device="cpu", detector=None, batch_size=4, read_ahead=6) as p:
        results = list(p.predict_iter(items))
        single = p.predict_faces(paths[9])
    assert [r.source for r in results[:7]] == [str(x) for x in paths[:7]]
    assert [r.error_type for r in results[7:9]] == ["InvalidImageError", "InvalidImageError"]
    assert "truncated" in results[7].error and "no such file" in results[8].error
    assert all(r.ok and len(r.faces) == 1 for r in results[9:-1])
    assert [r.source for r in results[9:-1]] == [str(x) for x in paths[7:]]
    assert results[-1].error_type == "InvalidImageError"
    # image order in, image order out: the face of paths[9] is the one predicted alone
    assert results[11].faces[0].gender == single.faces[0].gender
    assert abs(results[11].faces[0].age - single.faces[0].age) < 1e-3


def test_generator_is_read_lazily_and_early_stop_is_clean(shipped_model, faces_48):
    paths = [r["path"] for r in faces_48]
    pulled = []

    def endless():
        for k in itertools.count():
            pulled.append(k)
            yield paths[k % len(paths)]

    with Predictor(shipped_model, device="cpu", detector=None, batch_size=4, read_ahead=10) as p:
        stream = p.predict_iter(endless())
        first = [next(stream) for _ in range(25)]
        assert all(r.ok for r in first)
        # bounded read-ahead: never more than read_ahead images beyond those already returned
        assert len(pulled) <= 25 + 10
        stream.close()                    # the caller stops: pending work is dropped, no hang
        after = len(pulled)
        assert p.predict_faces(paths[0]).ok
        assert len(pulled) == after


def test_aligned_model_pipelined_equals_reference(shipped_model, canvases, tmp_path):
    """A copy of the shipped model whose metadata asks for landmark alignment (5-point YuNet)."""
    pytest.importorskip("onnx")
    from .aligned_model import make_aligned_model

    aligned = make_aligned_model(shipped_model, tmp_path / "aligned.onnx")
    images = [FIXTURES / c["image"] for c in canvases]
    with Predictor(aligned, device="cpu", detector=f"yunet:{YUNET}", batch_size=4) as fast, \
            Predictor(aligned, device="cpu", detector=f"yunet:{YUNET}", batch_size=4, pipelined=False) as ref:
        assert fast.metadata.align is not None
        got, want = fast.predict(images), ref.predict(images)
    assert sum(len(r.faces) for r in got) >= 12
    assert _max_diff(got, want) < 1e-6


def test_thread_budget_fits_the_cores(shipped_model):
    cores = usable_cores()
    with Predictor(shipped_model, device="cpu", detector=None) as p:
        plan = p.threads
        assert plan.cores == cores
        assert plan.intra_op_threads + plan.prep_workers <= max(cores, 2)
        assert p.workers == plan.prep_workers >= 1
        assert p.runner.options.intra_op_threads == plan.intra_op_threads
        before = p.inference_seconds
        p.predict_faces([FIXTURES / "utkface_48" / f for f in sorted(
            x.name for x in (FIXTURES / "utkface_48").glob("*.jpg"))[:3]])
        assert p.inference_seconds > before
    with Predictor(shipped_model, device="cpu", detector=None, workers=3) as p:
        assert p.workers == 3 and p.threads.intra_op_threads == max(1, cores - 3)


def test_face_input_contract_matches_the_batch_path(pair, canvases):
    """preprocess.face_input (model colour order) and write_face (BGR slot) give the same face."""
    from agegender_edge.imageio import load_image
    from agegender_edge.preprocess import face_input, write_face

    fast, _ = pair
    bgr = load_image(FIXTURES / canvases[0]["image"], None, 10 ** 8).bgr
    det = fast.detector.detect(bgr)[0]
    face, crop, aligned = face_input(bgr, det, fast.detector.calibration, fast.metadata)
    slot = np.zeros((*fast.metadata.input.size, 3), np.uint8)
    crop2, aligned2 = write_face(bgr, det, fast.detector.calibration, fast.metadata, slot)
    assert (crop, aligned) == (crop2, aligned2)
    order = slice(None, None, -1) if fast.metadata.input.colour_order == "RGB" else slice(None)
    assert np.array_equal(face, slot[:, :, order])
