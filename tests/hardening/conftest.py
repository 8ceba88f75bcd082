"""Fixtures of the hardening tests (issue #7): the model under test, real faces, a shared predictor.

MODEL SWITCH: the tests use the model shipped in the package (``Predictor()`` with no model
argument loads it). Until it lands, they fall back to ``DEV_MODEL`` (plumbing-only weights); set
DEV_MODEL = None to require the shipped model. On a clean CI checkout /work/dev_models does not
exist, so only the shipped model is used there.
"""
from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()
FACES_48 = SHARED_DATA / "fixtures" / "utkface_48"
CANVASES = sorted((SHARED_DATA / "fixtures").glob("multi_face_canvas_*.jpg"))
ADIENCE_FACES = SHARED_DATA / "adience" / "sample_faces"

DEV_MODEL: Path | None = None   # <- the one switch; was Path("/work/dev_models/dev_plain.onnx") before the shipped model landed


def resolve_model_path() -> Path:
    from agegender_edge.predictor import default_model_path

    shipped = default_model_path()
    if shipped.is_file():
        return shipped
    if DEV_MODEL is not None and DEV_MODEL.is_file():
        return DEV_MODEL
    pytest.fail(f"no model to test: the shipped model {shipped} is missing")


@pytest.fixture(scope="session")
def model_path() -> Path:
    return resolve_model_path()


@pytest.fixture(scope="session")
def model_bytes(model_path) -> bytes:
    return model_path.read_bytes()


@pytest.fixture(scope="session")
def face_paths() -> list[Path]:
    paths = sorted(FACES_48.glob("*.jpg"))
    assert len(paths) == 48, f"expected 48 fixture faces in {FACES_48}"
    return paths


@pytest.fixture(scope="session")
def canvas_paths() -> list[Path]:
    assert len(CANVASES) == 2, "expected 2 multi-face canvases"
    return CANVASES


@pytest.fixture(scope="session")
def chips_predictor(model_path):
    """Shared CPU predictor without a detector (each image is a face chip)."""
    from agegender_edge.backends.onnxruntime import OrtOptions
    from agegender_edge.predictor import Predictor

    with Predictor(model_path, backend="onnxruntime", device="cpu", detector=None,
                   ort_options=OrtOptions(intra_op_threads=1)) as p:
        yield p


@pytest.fixture(scope="session")
def haar_predictor(model_path):
    """Shared CPU predictor with the Haar detector (full pipeline)."""
    from agegender_edge.backends.onnxruntime import OrtOptions
    from agegender_edge.predictor import Predictor

    with Predictor(model_path, backend="onnxruntime", device="cpu", detector="haar",
                   ort_options=OrtOptions(intra_op_threads=1)) as p:
        yield p
