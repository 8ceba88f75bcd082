"""Partition an exported graph into pre-processing, backbone and post-processing nodes.

The exported model (train/export_onnx.py) is: normalise (Sub/Mul on raw pixels) -> CNN backbone
(Conv ... Gemm heads) -> post-processing (Cast, Softmax, MatMul with the bin/group matrices,
variance, Sqrt; with flip-TTA also Slice/Add/Log). Reduced precision belongs to the backbone only:
the variance ``E[a^2] - E[a]^2`` over ages up to 100 cancels catastrophically in FP16 (values
~1e4 with an FP16 step of 8) and would make ``age_std`` meaningless, and the softmax sums are
cheap. Every precision tool here (FP16 conversion, INT8 exclusions, TensorRT layer precision
constraints, trtexec ``--layerPrecisions``) uses this one partition.

Rule (no reliance on node names): the backbone is every node that is downstream of some Conv and
NOT downstream of any Softmax/LogSoftmax/Log/Exp; nodes upstream of the first Conv are the
pre-processing; the rest is post-processing. The face descriptor's branch (the nodes whose
outputs lead to the ``embedding`` graph output only: flip halves added, ReduceL2, Clip, Div) is
post-processing too: its norm is a sum of squares (FP16 range) and INT8 would only add noise to
a descriptor that costs nothing to compute in FP32.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

POSTPROCESS_SEEDS = ("Softmax", "LogSoftmax", "Log", "Exp")


@dataclass(frozen=True)
class Partition:
    preprocess: tuple[str, ...]
    backbone: tuple[str, ...]
    postprocess: tuple[str, ...]
    first_conv: str


def _node_ids(graph) -> list[str]:
    """Node names, made unique and non-empty (ONNX allows empty names)."""
    seen: dict[str, int] = {}
    ids = []
    for i, node in enumerate(graph.node):
        name = node.name or f"{node.op_type}_{i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}__{seen[name]}"
        else:
            seen[name] = 0
        ids.append(name)
    return ids


def ensure_node_names(graph) -> None:
    """Give every node a unique name (quantisation exclusions and TensorRT layers go by name)."""
    for node, name in zip(graph.node, _node_ids(graph)):
        node.name = name


def _downstream(graph, seeds: set[int]) -> set[int]:
    consumers = defaultdict(list)
    for i, node in enumerate(graph.node):
        for t in node.input:
            if t:
                consumers[t].append(i)
    out, stack = set(seeds), list(seeds)
    while stack:
        i = stack.pop()
        for t in graph.node[i].output:
            for j in consumers.get(t, ()):
                if j not in out:
                    out.add(j)
                    stack.append(j)
    return out


def _embedding_only(graph) -> set[int]:
    """Nodes whose outputs reach the ``embedding`` graph output and no other graph output."""
    outputs = [o.name for o in graph.output]
    if "embedding" not in outputs:
        return set()
    producer = {t: i for i, n in enumerate(graph.node) for t in n.output}
    reaches: dict[int, set[str]] = defaultdict(set)
    for name in outputs:
        stack = [producer[name]] if name in producer else []
        seen: set[int] = set()
        while stack:
            i = stack.pop()
            if i in seen:
                continue
            seen.add(i)
            reaches[i].add(name)
            stack.extend(producer[t] for t in graph.node[i].input if t in producer)
    return {i for i, names in reaches.items() if names == {"embedding"}}


def partition(model) -> Partition:
    g = model.graph
    ids = _node_ids(g)
    convs = [i for i, n in enumerate(g.node) if n.op_type == "Conv"]
    if not convs:
        raise ValueError("graph has no Conv node: not an agegender-edge CNN")
    after_conv = _downstream(g, set(convs))
    post = _downstream(g, {i for i, n in enumerate(g.node) if n.op_type in POSTPROCESS_SEEDS})
    post |= _embedding_only(g)
    backbone = after_conv - post
    pre = set(range(len(g.node))) - after_conv - post
    # Constant nodes feeding only one region belong to it; a Constant upstream of nothing runs
    # nowhere, so put Constants with the region of their consumers (they are not compute).
    return Partition(
        preprocess=tuple(ids[i] for i in sorted(pre)),
        backbone=tuple(ids[i] for i in sorted(backbone)),
        postprocess=tuple(ids[i] for i in sorted(post)),
        first_conv=ids[min(convs)],
    )
