"""Short, seeded version of the fuzz target (tests/fuzz/test_fuzz_images.py, ``-m fuzz``):
the same strategies and oracle, 60 predict cases + 300 decode cases, derandomised so every run sees the same cases."""
from __future__ import annotations

import collections

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz.strategies import (FUZZ_MAX_PIXELS, check_load, fuzz_input, mutated_images, random_bytes,
                                   run_case, seed_corpus)

SHORT = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                 suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def fuzz_predictor(model_path):
    from agegender_edge.backends.onnxruntime import OrtOptions
    from agegender_edge.predictor import Predictor

    with Predictor(model_path, backend="onnxruntime", device="cpu", detector="haar", max_pixels=FUZZ_MAX_PIXELS,
                   ort_options=OrtOptions(intra_op_threads=1)) as p:
        yield p


@pytest.fixture(scope="module")
def references(fuzz_predictor, face_paths):
    goods = face_paths[:8]
    return goods, {str(p): fuzz_predictor.predict(str(p)).faces for p in goods}


def test_seed_corpus_decodes_cleanly():
    corpus = seed_corpus()
    assert {"utk0.jpg", "face.png", "face.bmp", "lossy.webp", "face16.png", "rgba.png"} <= set(corpus)
    for name, data in corpus.items():
        outcome = check_load(data, None, 50_000_000)
        assert outcome == ("ImageTooLargeError" if name == "bomb.png" else "ok"), name


def test_fuzz_short_predict(fuzz_predictor, references, tmp_path):
    goods, refs = references
    seen = collections.Counter()
    counter = iter(range(10 ** 9))

    @settings(SHORT, max_examples=60)
    @given(case=fuzz_input())
    def one(case):
        kind, value, colour_order = case
        load, pred = run_case(kind, value, colour_order, fuzz_predictor, refs, goods, tmp_path, next(counter))
        seen[pred] += 1

    one()
    assert sum(seen.values()) >= 60
    assert seen["InvalidImageError"] > 0 and seen["ok"] > 0, seen


@SHORT
@given(data=mutated_images())
def test_fuzz_short_decode_mutated(data):
    check_load(data, None, FUZZ_MAX_PIXELS)


@SHORT
@given(data=random_bytes)
def test_fuzz_short_decode_random(data):
    check_load(data, None, FUZZ_MAX_PIXELS)
