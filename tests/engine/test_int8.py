"""INT8 static QDQ quantisation (ONNX Runtime CPU), calibrated on real TRAIN-split faces and
checked on the 48 real val fixture faces. Accuracy on the full UTKFace val split and the speed-up
are measured by benchmarks/int8_cpu.py (see benchmarks/int8_cpu.md)."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from agegender_edge.engine.int8 import Int8Options, excluded_nodes, quantize_int8  # noqa: E402
from agegender_edge.engine.graph import partition  # noqa: E402
from agegender_edge.engine.onnx_meta import read_metadata  # noqa: E402
from agegender_edge.metadata import OUTPUT_NAMES  # noqa: E402


def _run(model, x):
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip(OUTPUT_NAMES, s.run(list(OUTPUT_NAMES), {"input": x})))


@pytest.fixture(scope="module")
def int8_cpu(onnx_model, train_faces):
    return quantize_int8(onnx_model, train_faces, Int8Options(target="cpu", keep_first_conv_fp32=False))


def test_int8_cpu_graph_and_metadata(int8_cpu, onnx_model, train_faces):
    q = int8_cpu
    part = partition(onnx_model)
    qnodes = [n for n in q.graph.node if n.op_type == "QuantizeLinear"]
    assert qnodes
    # activations u8 (zero points uint8), weights s8 per-channel (axis attribute on weight DQ)
    zp_types = {t.name: t.data_type for t in q.graph.initializer}
    act_zp = [zp_types[n.input[2]] for n in qnodes if len(n.input) > 2 and n.input[2] in zp_types]
    assert act_zp and all(t == onnx.TensorProto.UINT8 for t in act_zp)
    assert any(a.name == "axis" for n in q.graph.node if n.op_type == "DequantizeLinear" for a in n.attribute)
    # post-processing untouched: its nodes are still float ops fed by float tensors
    post = set(part.postprocess)
    assert post and all(n.op_type not in ("QuantizeLinear", "DequantizeLinear") for n in q.graph.node if n.name in post)
    meta = read_metadata(q)
    assert meta.precision == "int8" and meta.training["quantization"]["calibration_faces"] == len(train_faces)


def test_int8_cpu_agrees_with_fp32_on_real_faces(int8_cpu, onnx_model, faces, fixture_labels):
    ref, got = _run(onnx_model, faces), _run(int8_cpu, faces)
    for k in OUTPUT_NAMES:
        assert got[k].shape == ref[k].shape and np.all(np.isfinite(got[k]))
    np.testing.assert_allclose(got["gender_probs"].sum(1), 1.0, atol=1e-4)   # softmax stays FP32
    g_agree = np.mean(got["gender_probs"].argmax(1) == ref["gender_probs"].argmax(1))
    a_diff = np.abs(got["age_years"] - ref["age_years"])
    assert g_agree >= 0.9, g_agree
    assert float(np.median(a_diff)) < 3.0, a_diff
    # accuracy against the labels may not drop by more than 2 of 48 faces (noise on 48 faces)
    truth = np.array([1 if r["gender_name"] == "male" else 0 for r in fixture_labels])
    if read_metadata(onnx_model).training.get("epochs", 0) and read_metadata(onnx_model).training["epochs"] > 1:
        acc32 = np.mean(ref["gender_probs"].argmax(1) == truth)
        acc8 = np.mean(got["gender_probs"].argmax(1) == truth)
        assert acc8 >= acc32 - 2 / 48


def test_int8_tensorrt_flavour_is_symmetric_s8(onnx_model, train_faces):
    q = quantize_int8(onnx_model, train_faces[:32], Int8Options(target="tensorrt", keep_first_conv_fp32=True))
    inits = {t.name: t for t in q.graph.initializer}
    from onnx import numpy_helper
    zps = [inits[n.input[2]] for n in q.graph.node if n.op_type == "QuantizeLinear" and len(n.input) > 2]
    assert zps and all(z.data_type == onnx.TensorProto.INT8 for z in zps)
    assert all(np.all(numpy_helper.to_array(z) == 0) for z in zps)          # symmetric: zero point 0
    first = partition(onnx_model).first_conv
    conv = [n for n in q.graph.node if n.name == first][0]
    producers = {o: n.op_type for n in q.graph.node for o in n.output}
    assert producers.get(conv.input[0]) != "DequantizeLinear"               # first conv kept FP32
    assert first in excluded_nodes(onnx_model, Int8Options(keep_first_conv_fp32=True))
