"""FP32 ONNX -> mixed FP16 ONNX: FP16 weights and compute in the backbone, FP32 everywhere else.

This is the precision path for TensorRT 11 (strongly typed networks only: the precision must be
in the ONNX) and an option for ONNX Runtime CUDA. Inputs and outputs stay FP32 (Cast nodes at the
region borders), so every runtime feeds and reads the same tensors as with the FP32 model, and
the normalisation and post-processing (see graph.py for why) stay FP32.

Written with onnx's own helpers instead of onnxconverter-common (which pinned old protobuf
releases) to keep the toolchain's dependencies as they are; ModelOpt AutoCast is NVIDIA's tool
for the same job and needs the NVIDIA index.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..metadata import ModelMetadata
from .graph import ensure_node_names, partition
from .onnx_meta import maybe_metadata, write_metadata

# Ops whose float inputs are all of one type T (so all of them switch to FP16 together).
FP16_OPS = frozenset({
    "Conv", "Relu", "Add", "Sub", "Mul", "Div", "AveragePool", "MaxPool", "GlobalAveragePool",
    "Flatten", "Gemm", "Concat", "BatchNormalization", "LRN", "Identity", "Transpose", "Reshape",
    "Slice", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "PRelu", "Pad", "MatMul",
})
# Ops where only some inputs are of type T (the others are integer shapes/indices).
_T_INPUTS = {"Reshape": {0}, "Slice": {0}, "Pad": {0, 2}}


def _is_t_input(op: str, k: int) -> bool:
    return k in _T_INPUTS[op] if op in _T_INPUTS else True


def _float_tensors(model) -> set[str]:
    import onnx
    from onnx import TensorProto

    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    floats = set()
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            floats.add(vi.name)
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT:
            floats.add(init.name)
    for node in g.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value" and a.t.data_type == TensorProto.FLOAT:
                    floats.update(node.output)
    return floats


def convert_to_fp16(model, metadata: Optional[ModelMetadata] = None):
    """Return a new ModelProto; ``model`` is left unchanged. Writes updated metadata
    (precision "fp16", new weights_sha256) when ``metadata`` is given or found in the model."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    ensure_node_names(g)
    part = partition(m)
    fp16_nodes = {n for n in part.backbone}
    floats = _float_tensors(m)
    init_by_name = {t.name: t for t in g.initializer}
    const_nodes = {o: n for n in g.node if n.op_type == "Constant" for o in n.output}

    # which float tensors each region reads
    readers: dict[str, set[bool]] = {}
    for node in g.node:
        is16 = node.name in fp16_nodes and node.op_type in FP16_OPS
        for k, t in enumerate(node.input):
            if t and t in floats:
                readers.setdefault(t, set()).add(is16 and _is_t_input(node.op_type, k))

    half_tensors: set[str] = set()      # tensors that are FP16 in the new graph
    new_inits, casts_16, casts_32 = [], {}, {}
    new_nodes = []

    def as_half_init(name: str) -> str:
        src = init_by_name[name]
        arr = numpy_helper.to_array(src)
        if readers.get(name) == {True}:
            src.CopyFrom(numpy_helper.from_array(arr.astype(np.float16), name))
            half_tensors.add(name)
            return name
        new = f"{name}__fp16"
        if new not in init_by_name:
            t = numpy_helper.from_array(arr.astype(np.float16), new)
            new_inits.append(t)
            init_by_name[new] = t
        half_tensors.add(new)
        return new

    for node in g.node:
        is16 = node.name in fp16_nodes and node.op_type in FP16_OPS
        if is16:
            for k, t in enumerate(list(node.input)):
                if not t or not _is_t_input(node.op_type, k) or t not in floats or t in half_tensors:
                    continue
                if t in init_by_name:
                    node.input[k] = as_half_init(t)
                elif t in const_nodes and readers.get(t) == {True}:
                    c = const_nodes[t]
                    for a in c.attribute:
                        if a.name == "value":
                            a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float16), a.t.name))
                    half_tensors.add(t)
                else:
                    if t not in casts_16:
                        casts_16[t] = f"{t}__to_fp16"
                        new_nodes.append(helper.make_node("Cast", [t], [casts_16[t]], name=f"{t}__Cast16",
                                                          to=TensorProto.FLOAT16))
                    node.input[k] = casts_16[t]
            for o in node.output:
                if o in floats:
                    half_tensors.add(o)
        else:
            for k, t in enumerate(list(node.input)):
                if t in half_tensors:
                    if node.op_type == "Cast":
                        continue  # an existing Cast(to=FLOAT) already leaves FP16
                    if t not in casts_32:
                        casts_32[t] = f"{t}__to_fp32"
                        new_nodes.append(helper.make_node("Cast", [t], [casts_32[t]], name=f"{t}__Cast32",
                                                          to=TensorProto.FLOAT))
                    node.input[k] = casts_32[t]
        new_nodes.append(node)

    # graph outputs stay FP32: rename a half producer's output and cast back to the public name
    for out in g.output:
        if out.name in half_tensors:
            inner = f"{out.name}__fp16"
            for n in new_nodes:
                for k, o in enumerate(n.output):
                    if o == out.name:
                        n.output[k] = inner
                for k, i in enumerate(n.input):
                    if i == out.name:
                        n.input[k] = inner
            new_nodes.append(helper.make_node("Cast", [inner], [out.name], name=f"{out.name}__Cast32",
                                              to=TensorProto.FLOAT))

    del g.node[:]
    g.node.extend(_toposort(new_nodes, {i.name for i in g.input} | set(init_by_name)))
    g.initializer.extend(new_inits)
    used = {t for n in g.node for t in n.input}
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    del g.value_info[:]
    m = onnx.shape_inference.infer_shapes(m)
    onnx.checker.check_model(m)
    meta = metadata or maybe_metadata(model)
    if meta is not None:
        write_metadata(m, meta.replace(precision="fp16"))
    return m


def _toposort(nodes, available: set[str]):
    avail = set(available)
    out, pending = [], list(nodes)
    while pending:
        rest = []
        for n in pending:
            if all((not t) or t in avail for t in n.input):
                out.append(n)
                avail.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            raise ValueError(f"cannot order graph: unresolved inputs of {[n.name for n in rest[:3]]}")
        pending = rest
    return out


def convert_file(src: Path, dst: Path, metadata: Optional[ModelMetadata] = None) -> Path:
    """``metadata``: what to write into the FP16 file (default: the source's), precision set to fp16."""
    import onnx

    model = onnx.load(str(src))
    out = convert_to_fp16(model, metadata)
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(out, str(dst))
    return Path(dst)
