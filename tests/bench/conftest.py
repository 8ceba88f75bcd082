"""Fixtures for the bench tests: a tiny ONNX model with the real input/output contract (built with
onnx.helper in milliseconds, no torch), and paths to the shared real faces."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FACES_48 = SHARED / "fixtures" / "utkface_48"
FIXTURES = SHARED / "fixtures"


def make_tiny_model(path: Path, qdq: bool = False) -> Path:
    """[N,3,96,96] raw pixels -> GlobalAveragePool -> two Gemm heads -> the five named outputs."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    from agegender_edge.labels import AGE_GROUP_LABELS, GENDER_LABELS
    from agegender_edge.metadata import METADATA_KEY, OUTPUT_NAMES, ModelMetadata
    from agegender_edge.train.postprocess import age_bins_for, bin_to_group_matrix

    rng = np.random.default_rng(0)
    bins = age_bins_for(101).astype(np.float32)
    inits = [
        numpy_helper.from_array(rng.standard_normal((3, 2)).astype(np.float32) * 0.01, "wg"),
        numpy_helper.from_array(rng.standard_normal((3, 101)).astype(np.float32) * 0.01, "wa"),
        numpy_helper.from_array(bin_to_group_matrix(bins), "groups"),
        numpy_helper.from_array(bins, "bins"),
        numpy_helper.from_array(bins * bins, "bins2"),
        numpy_helper.from_array(np.array([1.0], np.float32), "qscale"),
        numpy_helper.from_array(np.array([0], np.uint8), "qzero"),
    ]
    src = "input"
    nodes = []
    if qdq:  # a QuantizeLinear/DequantizeLinear pair, as quantised exports contain
        nodes += [helper.make_node("QuantizeLinear", ["input", "qscale", "qzero"], ["q"]),
                  helper.make_node("DequantizeLinear", ["q", "qscale", "qzero"], ["dq"])]
        src = "dq"
    nodes += [
        helper.make_node("GlobalAveragePool", [src], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"]),
        helper.make_node("Gemm", ["flat", "wg"], ["g_logits"]),
        helper.make_node("Softmax", ["g_logits"], [OUTPUT_NAMES[0]], axis=1),
        helper.make_node("Gemm", ["flat", "wa"], ["a_logits"]),
        helper.make_node("Softmax", ["a_logits"], [OUTPUT_NAMES[4]], axis=1),
        helper.make_node("MatMul", [OUTPUT_NAMES[4], "groups"], [OUTPUT_NAMES[1]]),
        helper.make_node("MatMul", [OUTPUT_NAMES[4], "bins"], [OUTPUT_NAMES[2]]),
        helper.make_node("MatMul", [OUTPUT_NAMES[4], "bins2"], [OUTPUT_NAMES[3]]),
    ]
    shapes = {OUTPUT_NAMES[0]: ["N", 2], OUTPUT_NAMES[1]: ["N", 8], OUTPUT_NAMES[2]: ["N"],
              OUTPUT_NAMES[3]: ["N"], OUTPUT_NAMES[4]: ["N", 101]}
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 96, 96])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, shapes[n]) for n in OUTPUT_NAMES], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    meta = ModelMetadata(name="tiny_bench", architecture="tiny", age_groups=tuple(AGE_GROUP_LABELS),
                         age_bins=tuple(float(b) for b in bins), gender_labels=tuple(GENDER_LABELS))
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, meta.to_json()
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("bench") / "tiny.onnx")


@pytest.fixture(scope="session")
def tiny_qdq_model(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("bench") / "tiny_qdq.onnx", qdq=True)


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    assert FACES_48.is_dir(), f"shared faces missing: {FACES_48}"
    return FACES_48
