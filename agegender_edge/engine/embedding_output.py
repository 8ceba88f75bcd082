"""Give an already-exported model the face descriptor output ``embedding`` by a graph edit.

Models exported before the descriptor existed (the shipped files in agegender_edge/weights/:
FP32, INT8 QDQ, flip-TTA) get the same output a new export has (train/postprocess.DeployModel),
without re-exporting and without touching a weight:

* the pooled-feature tensor is the data input of the heads' Gemm/MatMul: found by walking back
  from ``gender_probs`` to the first Gemm/MatMul whose other input is a weight (an initializer,
  or a DequantizeLinear of one in INT8 QDQ graphs) — no reliance on node names;
* flip-TTA graphs (metadata ``flip_tta``) run the face and its mirror as one batch of 2N, so the
  features are split in two halves (Split, equal parts) and added: the mean of face and mirror up
  to a scale the normalisation removes, as DeployModel does;
* then ReduceL2 (axis 1, keepdims) -> Clip (min 1e-12, a Constant node) -> Div: the
  L2-normalised descriptor, a new graph output ``embedding`` [batch, D];
* the metadata gains its ``embedding`` section (dim, source "pooled_features", flip rule).

No initializer is added, removed or changed (the Clip floor is a Constant node), so the
``weights_sha256`` recorded at export still verifies; ``add_embedding_output`` checks that.
Idempotent: a model that already has the output is returned unchanged.
"""
from __future__ import annotations

from typing import Optional

from ..metadata import OUTPUT_EMBEDDING, OUTPUT_GENDER, EmbeddingSpec, ModelMetadata
from ..model_file import initializer_digest
from .onnx_meta import read_metadata, write_metadata

EPS = 1e-12
_PREFIX = "/embedding/"


def feature_tensor(model) -> tuple[str, int]:
    """(name, width) of the pooled-feature tensor the heads read."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}

    def weight_of(name: str):
        if name in inits:
            return inits[name]
        p = producer.get(name)
        if p is not None and p.op_type == "DequantizeLinear" and p.input[0] in inits:
            return inits[p.input[0]]
        return None

    seen, stack = set(), [OUTPUT_GENDER]
    while stack:
        t = stack.pop(0)
        node = producer.get(t)
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if node.op_type in ("Gemm", "MatMul") and len(node.input) >= 2:
            w = weight_of(node.input[1])
            if w is not None and len(w.dims) == 2:
                trans_b = any(a.name == "transB" and a.i for a in node.attribute) if node.op_type == "Gemm" else False
                return node.input[0], int(w.dims[1] if trans_b else w.dims[0])
        stack.extend(i for i in node.input if i)
    raise ValueError("no Gemm/MatMul head with a weight found upstream of 'gender_probs': "
                     "not an agegender-edge classifier graph")


def add_embedding_output(model, metadata: Optional[ModelMetadata] = None):
    """Return (new ModelProto, its metadata) with the ``embedding`` output; ``model`` is left
    unchanged. ValueError when the edit would change the recorded weights checksum."""
    import onnx
    from onnx import TensorProto, helper

    meta = metadata or read_metadata(model)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    if any(o.name == OUTPUT_EMBEDDING for o in g.output):
        return m, meta
    before = initializer_digest(m.SerializeToString())
    feats, dim = feature_tensor(m)
    nodes = []
    x = feats
    if meta.flip_tta:
        halves = [_PREFIX + "face", _PREFIX + "mirror"]
        nodes.append(helper.make_node("Split", [feats], halves, name=_PREFIX + "Split", axis=0))
        nodes.append(helper.make_node("Add", halves, [_PREFIX + "sum"], name=_PREFIX + "Add"))
        x = _PREFIX + "sum"
    nodes += [
        helper.make_node("ReduceL2", [x], [_PREFIX + "norm"], name=_PREFIX + "ReduceL2", axes=[1], keepdims=1),
        helper.make_node("Constant", [], [_PREFIX + "eps"], name=_PREFIX + "eps",
                         value=helper.make_tensor(_PREFIX + "eps_value", TensorProto.FLOAT, [], [EPS])),
        helper.make_node("Clip", [_PREFIX + "norm", _PREFIX + "eps"], [_PREFIX + "norm_clipped"],
                         name=_PREFIX + "Clip"),
        helper.make_node("Div", [x, _PREFIX + "norm_clipped"], [OUTPUT_EMBEDDING], name=_PREFIX + "Div"),
    ]
    g.node.extend(nodes)
    batch = g.output[0].type.tensor_type.shape.dim[0]
    out = helper.make_tensor_value_info(OUTPUT_EMBEDDING, TensorProto.FLOAT,
                                        [batch.dim_param or (batch.dim_value or "batch"), dim])
    g.output.append(out)
    spec = EmbeddingSpec(dim=dim, source="pooled_features", flip="mean" if meta.flip_tta else "none",
                         match_threshold=meta.embedding.match_threshold if meta.embedding else None,
                         threshold_fitted_on=meta.embedding.threshold_fitted_on if meta.embedding else "")
    new_meta = write_metadata(m, meta.replace(embedding=spec))
    after = initializer_digest(m.SerializeToString())
    if after != before or (meta.weights_sha256 and after != meta.weights_sha256):
        raise ValueError("the graph edit changed the weights checksum (it must not touch initializers)")
    onnx.checker.check_model(m, full_check=True)
    return m, new_meta
