"""Shared test fixtures. Real data lives in ../shared/data beside the repository (as in CI)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()
FIXTURES = SHARED_DATA / "fixtures"
FACES_48 = FIXTURES / "utkface_48"
YUNET = SHARED_DATA / "models" / "yunet" / "face_detection_yunet_2026may.onnx"
UTKFACE = SHARED_DATA / "utkface"
ADIENCE = SHARED_DATA / "adience"


def pytest_configure(config):
    if not SHARED_DATA.is_dir():
        raise pytest.UsageError(f"tests need the shared data at {SHARED_DATA} (../shared/data beside the repo)")


@pytest.fixture(scope="session")
def shipped_model() -> Path:
    from agegender_edge.predictor import default_model_path
    path = default_model_path()
    assert path.is_file(), f"shipped model missing: {path}"
    return path


@pytest.fixture(scope="session")
def faces_48() -> list[dict]:
    with open(FACES_48 / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["path"] = FACES_48 / r["file"]
    return rows


@pytest.fixture(scope="session")
def canvases() -> list[dict]:
    return json.loads((FIXTURES / "multi_face_canvases.json").read_text())


@pytest.fixture(scope="session")
def predictor(shipped_model):
    """One CPU predictor (Haar detector) shared by the read-only tests of a session."""
    from agegender_edge import Predictor
    with Predictor(shipped_model, backend="onnxruntime", device="cpu", detector="haar") as p:
        yield p


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory) -> Path:
    """A freshly initialised edge network exported to ONNX (plumbing tests that need no accuracy)."""
    torch = pytest.importorskip("torch")
    from agegender_edge.train.export_onnx import build_metadata, export_onnx
    from agegender_edge.train.models.registry import create_model

    torch.manual_seed(0)
    net = create_model("edge_resnet", 101).eval()
    meta = build_metadata("edge_resnet", 101, "tiny_test", flip_tta=False)
    return export_onnx(net, meta, tmp_path_factory.mktemp("tiny") / "tiny.onnx")
