"""The face descriptor output ``embedding`` (issue 22): added to an old export by the graph edit
(engine/embedding_output.py) with the weights untouched, kept by the FP16 and INT8 conversions,
listed in the Triton and DeepStream artefacts, read back by the runtime (Predictor), and metadata
without it still read. Real faces, real ONNX Runtime sessions."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from agegender_edge.engine.embedding_output import add_embedding_output, feature_tensor  # noqa: E402
from agegender_edge.engine.graph import partition  # noqa: E402
from agegender_edge.engine.onnx_meta import read_metadata, write_metadata  # noqa: E402
from agegender_edge.metadata import OUTPUT_EMBEDDING, OUTPUT_NAMES, ModelMetadata  # noqa: E402
from agegender_edge.model_file import initializer_digest  # noqa: E402


def _run(model, x, names):
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip(names, s.run(list(names), {"input": x})))


def _strip(model):
    """The model as exported before the descriptor existed: no embedding output, nodes or metadata."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep = [n for n in m.graph.node if not n.name.startswith("/embedding/")]
    del m.graph.node[:]
    m.graph.node.extend(keep)
    outs = [o for o in m.graph.output if o.name != OUTPUT_EMBEDDING]
    del m.graph.output[:]
    m.graph.output.extend(outs)
    write_metadata(m, read_metadata(model).replace(embedding=None), rehash=False)
    return m


def test_graph_edit_adds_the_descriptor_without_touching_weights(onnx_model, faces):
    old = _strip(onnx_model)
    assert OUTPUT_EMBEDDING not in [o.name for o in old.graph.output]
    new, meta = add_embedding_output(old)
    assert meta.embedding.dim == 320 and meta.embedding.flip == ("mean" if meta.flip_tta else "none")
    assert meta.weights_sha256 == read_metadata(old).weights_sha256 == initializer_digest(new.SerializeToString())
    a = _run(old, faces, OUTPUT_NAMES)
    b = _run(new, faces, [*OUTPUT_NAMES, OUTPUT_EMBEDDING])
    for k in OUTPUT_NAMES:
        assert np.array_equal(a[k], b[k]), k                      # the five outputs bit-identical
    e = b[OUTPUT_EMBEDDING]
    assert e.shape == (len(faces), 320) and np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    # the descriptor is the heads' input, normalised: check against the features read out directly
    feats, _ = feature_tensor(new)
    probe = onnx.ModelProto()
    probe.CopyFrom(new)
    probe.graph.output.append(onnx.helper.make_tensor_value_info(feats, onnx.TensorProto.FLOAT, None))
    f = _run(probe, faces, [feats])[feats]
    if meta.flip_tta:
        f = f[:len(faces)] + f[len(faces):]
    np.testing.assert_allclose(e, f / np.linalg.norm(f, axis=1, keepdims=True), atol=1e-5)
    again, _ = add_embedding_output(new)                          # idempotent
    assert again.SerializeToString() == new.SerializeToString()
    # the descriptor's nodes are post-processing (FP32 in every precision path)
    post = set(partition(new).postprocess)
    assert {n.name for n in new.graph.node if n.name.startswith("/embedding/")} <= post


def test_fp16_and_int8_conversions_keep_the_descriptor(onnx_model, faces, train_faces):
    from agegender_edge.engine.fp16 import convert_to_fp16
    from agegender_edge.engine.int8 import Int8Options, quantize_int8
    names = [*OUTPUT_NAMES, OUTPUT_EMBEDDING]
    ref = _run(onnx_model, faces, names)[OUTPUT_EMBEDDING]
    for model, min_cos in ((convert_to_fp16(onnx_model), 0.999),
                           (quantize_int8(onnx_model, train_faces[:64], Int8Options(target="cpu")), 0.97)):
        assert read_metadata(model).embedding == read_metadata(onnx_model).embedding
        out = [o for o in model.graph.output if o.name == OUTPUT_EMBEDDING]
        assert out and out[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        got = _run(model, faces, names)[OUTPUT_EMBEDDING]
        cos = np.sum(got * ref, axis=1)
        assert cos.min() >= min_cos, (read_metadata(model).precision, cos.min())


def test_triton_and_deepstream_artefacts_list_it(onnx_model, tmp_path, model_path):
    from agegender_edge.engine.deepstream import nvinfer_config
    from agegender_edge.engine.recipes import list_recipes
    from agegender_edge.engine.triton import write_repository
    meta = read_metadata(onnx_model)
    recipe = list_recipes()[0]
    write_repository(model_path, tmp_path, meta, recipe)
    configs = list(tmp_path.rglob("config.pbtxt"))
    assert len(configs) == 2 and all(f'name: "{OUTPUT_EMBEDDING}"' in c.read_text() and "320" in c.read_text()
                                     for c in configs)
    ds = nvinfer_config(recipe, meta, "m")
    assert f"'{OUTPUT_EMBEDDING}' [320]" in ds and "output-tensor-meta=1" in ds
    assert f"{meta.embedding.match_threshold:g}" in ds


def test_runtime_reads_it_and_older_metadata_has_none(model_path):
    from agegender_edge import Predictor
    from agegender_edge.errors import ModelError
    from tests.engine.conftest import FACES
    files = sorted(FACES.glob("*.jpg"))[:3]
    with Predictor(model=model_path, backend="onnxruntime", device="cpu", detector=None) as p:
        plain = p.predict_faces(files)
        assert all(f.embedding is None and "embedding" not in f.to_dict() for r in plain for f in r.faces)
        got = p.predict_faces(files, return_embeddings=True)
        for r0, r1 in zip(plain, got):
            f0, f1 = r0.faces[0], r1.faces[0]
            assert (f0.age, f0.gender_probability) == (f1.age, f1.gender_probability)   # same pass, same outputs
            assert len(f1.embedding) == 320 and abs(np.linalg.norm(f1.embedding) - 1) < 1e-5
        assert p.runner.calls == 2                                  # no second network pass for the descriptor
    d = read_metadata(onnx.load(str(model_path))).to_dict()
    d.pop("embedding")                                              # a format-2 file from before the descriptor
    old = ModelMetadata.from_dict(d)
    assert old.embedding is None and old.embedding_dim == 0 and "embedding" not in old.to_json()
    stripped = _strip(onnx.load(str(model_path)))
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "old.onnx"
        path.write_bytes(stripped.SerializeToString())
        with Predictor(model=path, backend="onnxruntime", device="cpu", detector=None) as p:
            assert p.predict_faces(files[:1])[0].faces[0].embedding is None
            with pytest.raises(ModelError, match="no 'embedding' output"):
                p.predict_faces(files[:1], return_embeddings=True)
