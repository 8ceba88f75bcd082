"""Mixed-FP16 conversion, run in ONNX Runtime on CPU against the FP32 model on real faces.

Tolerance (also used by `export --format onnx-fp16`): probabilities within 5e-3 absolute, age and
age std within 0.25 years. NOTE: ONNX Runtime's x86 CPU provider has no FP16 Conv/Gemm kernels;
it inserts casts and computes those nodes in FP32, so this checks the converted graph (types,
casts, FP16 weight rounding, FP32 I/O and post-processing), not FP16 arithmetic, which only a GPU
run (benchmarks/gpu_check.sh) measures.
"""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from agegender_edge.cli.export import FP16_TOLERANCE  # noqa: E402
from agegender_edge.engine.fp16 import convert_to_fp16  # noqa: E402
from agegender_edge.engine.graph import partition  # noqa: E402
from agegender_edge.engine.onnx_meta import read_metadata  # noqa: E402
from agegender_edge.metadata import OUTPUT_NAMES  # noqa: E402
from agegender_edge.model_file import initializer_digest  # noqa: E402


def _run(model, x):
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip(OUTPUT_NAMES, s.run(list(OUTPUT_NAMES), {"input": x})))


def _check(model, faces):
    half = convert_to_fp16(model)
    F16, F32 = onnx.TensorProto.FLOAT16, onnx.TensorProto.FLOAT
    # I/O stays FP32
    assert all(v.type.tensor_type.elem_type == F32 for v in list(half.graph.input) + list(half.graph.output))
    # backbone weights are FP16, post-processing constants (age bins, group matrix) stay FP32
    types = {t.name: t.data_type for t in half.graph.initializer}
    conv_w = [n.input[1] for n in half.graph.node if n.op_type == "Conv"]
    assert conv_w and all(types[w] == F16 for w in conv_w)
    post_inits = {i for n in half.graph.node if n.name in set(partition(model).postprocess) for i in n.input if i in types}
    assert post_inits and all(types[i] == F32 for i in post_inits)
    assert half.ByteSize() < 0.6 * model.ByteSize()
    # metadata: precision fp16, checksum of the new weights (the runtime verifies it on load)
    m = read_metadata(half)
    assert m.precision == "fp16" and m.weights_sha256 == initializer_digest(half.SerializeToString())
    ref, got = _run(model, faces), _run(half, faces)
    for k in OUTPUT_NAMES:
        assert got[k].dtype == np.float32 and got[k].shape == ref[k].shape
        diff = float(np.max(np.abs(got[k] - ref[k])))
        assert diff <= FP16_TOLERANCE[k], (k, diff)
    assert np.all(got["gender_probs"].argmax(1) == ref["gender_probs"].argmax(1)) or \
        np.mean(got["gender_probs"].argmax(1) == ref["gender_probs"].argmax(1)) >= 0.97
    return half


def test_fp16_flip_tta_model_matches_fp32(flip_model_path, faces):
    """The shipped default (flip averaging in the graph) converted to mixed FP16."""
    _check(onnx.load(str(flip_model_path)), faces)


def test_fp16_model_loads_in_the_sdk_runtime(onnx_model, tmp_path, faces):
    from agegender_edge.backends.onnxruntime import OnnxRuntimeRunner
    p = tmp_path / "m.fp16.onnx"
    onnx.save(convert_to_fp16(onnx_model), str(p))
    with OnnxRuntimeRunner(p) as r:       # passes the weights checksum and I/O checks
        out = r.infer(faces[:5])
    assert r.metadata.precision == "fp16" and out["age_years"].shape == (5,)


def test_partition_keeps_softmax_and_variance_out_of_the_backbone(onnx_model):
    part = partition(onnx_model)
    ops = {n.name: n.op_type for n in onnx_model.graph.node}
    assert {ops[n] for n in part.backbone} >= {"Conv", "Gemm"}
    assert "Softmax" in {ops[n] for n in part.postprocess} and "Sqrt" in {ops[n] for n in part.postprocess}
    assert not {"Softmax", "Sqrt"} & {ops[n] for n in part.backbone}
    assert ops[part.first_conv] == "Conv" and not set(part.preprocess) & set(part.backbone)
