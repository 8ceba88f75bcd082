from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / ".." / "shared" / "data"
FACES = DATA / "fixtures" / "utkface_48"
# a reference graph for the conversion mechanics (its sizes are asserted); the TensorRT
# conformance tests and the generated deployment files take the shipped default's graph
SHIPPED = REPO / "agegender_edge" / "weights" / "edge_resnet_utkface.onnx"


def _first(*paths):
    for p in paths:
        if p and Path(p).is_file():
            return Path(p)
    return None


@pytest.fixture(scope="session")
def model_path() -> Path:
    p = _first(os.environ.get("AGEGENDER_EDGE_TEST_MODEL"), SHIPPED)
    assert p is not None, f"the shipped model {SHIPPED} is missing from the checkout"
    return p


@pytest.fixture(scope="session")
def flip_model_path() -> Path:
    """A model with flip averaging in its graph: the shipped default has it (checked)."""
    onnx = pytest.importorskip("onnx")
    from agegender_edge.engine.onnx_meta import read_metadata
    p = _first(os.environ.get("AGEGENDER_EDGE_TEST_FLIP_MODEL"), SHIPPED)
    assert p is not None, f"the shipped model {SHIPPED} is missing from the checkout"
    assert read_metadata(onnx.load(str(p)), str(p)).flip_tta, f"{p} has no flip averaging in its graph"
    return p


@pytest.fixture(scope="session")
def onnx_model(model_path):
    onnx = pytest.importorskip("onnx")
    return onnx.load(str(model_path))


@pytest.fixture(scope="session")
def meta(onnx_model):
    from agegender_edge.engine.onnx_meta import read_metadata
    return read_metadata(onnx_model)


@pytest.fixture(scope="session")
def faces(meta) -> np.ndarray:
    """The 48 real fixture faces as network input (float32 NCHW 0-255)."""
    from agegender_edge.imageio import DEFAULT_MAX_PIXELS, load_image
    from agegender_edge.preprocess import chip_to_input
    files = sorted(FACES.glob("*.jpg"))
    assert len(files) == 48, f"fixture faces missing under {FACES}"
    return np.stack([chip_to_input(load_image(str(f), None, DEFAULT_MAX_PIXELS).bgr, meta).transpose(2, 0, 1)
                     for f in files]).astype(np.float32)


@pytest.fixture(scope="session")
def fixture_labels():
    import csv
    rows = list(csv.DictReader(open(FACES / "labels.csv")))
    rows.sort(key=lambda r: r["file"])
    return rows


@pytest.fixture(scope="session")
def train_faces(meta) -> np.ndarray:
    """64 real UTKFace TRAIN-split chips (calibration must not use val/fixture faces)."""
    import csv

    from agegender_edge.engine.calibration import faces_from_folder  # noqa: F401 (same preprocessing)
    from agegender_edge.imageio import DEFAULT_MAX_PIXELS, load_image
    from agegender_edge.preprocess import chip_to_input
    labels = DATA / "utkface" / "labels.csv"
    if not labels.is_file():
        pytest.skip("shared UTKFace data not available")
    rows = [r for r in csv.DictReader(open(labels)) if r["split"] == "train"]
    rng = np.random.default_rng(0)
    pick = [rows[i]["file"] for i in rng.choice(len(rows), 64, replace=False)]
    imgs = [chip_to_input(load_image(str(DATA / "utkface" / "images" / f), None, DEFAULT_MAX_PIXELS).bgr, meta)
            for f in pick]
    return np.stack(imgs).transpose(0, 3, 1, 2).astype(np.float32)
