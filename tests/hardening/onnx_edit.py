"""Edit ONNX files at the protobuf level (no ``onnx`` package needed): replace the metadata,
flip a weight byte, cut the file at a field boundary. Test helpers for model-integrity tests."""
from __future__ import annotations

import json
from typing import Optional

from agegender_edge.model_file import _fields

MODEL_GRAPH, MODEL_METADATA_PROPS, GRAPH_INITIALIZER = 7, 14, 5


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _ld(field: int, payload: bytes) -> bytes:
    return _varint((field << 3) | 2) + _varint(len(payload)) + payload


def _raw_field(field: int, wire: int, payload: memoryview) -> bytes:
    if wire == 2:
        return _ld(field, bytes(payload))
    return _varint((field << 3) | wire) + bytes(payload)


def top_level_fields(model: bytes) -> list[tuple[int, int, int]]:
    """(field, start offset, end offset) of each top-level ModelProto field."""
    out, pos = [], 0
    for field, wire, payload in _fields(memoryview(model)):
        enc = _raw_field(field, wire, payload)
        out.append((field, pos, pos + len(enc)))
        pos += len(enc)
    return out


def with_metadata(model: bytes, props: Optional[dict[str, str]]) -> bytes:
    """The model with its metadata_props replaced by ``props`` (None or {}: no metadata at all)."""
    out = bytearray()
    for field, wire, payload in _fields(memoryview(model)):
        if field != MODEL_METADATA_PROPS:
            out += _raw_field(field, wire, payload)
    for key, value in (props or {}).items():
        out += _ld(MODEL_METADATA_PROPS, _ld(1, key.encode()) + _ld(2, value.encode()))
    return bytes(out)


def edit_metadata_json(model: bytes, change) -> bytes:
    """Apply ``change(dict) -> dict | str`` to the agegender_edge JSON metadata."""
    from agegender_edge.model_file import metadata_props

    props = metadata_props(model)
    d = json.loads(props["agegender_edge"])
    new = change(d)
    props["agegender_edge"] = new if isinstance(new, str) else json.dumps(new)
    return with_metadata(model, props)


def flip_weight_byte(model: bytes) -> bytes:
    """Flip one byte inside the largest initializer's raw data (the file stays valid ONNX)."""
    largest = None
    for field, wire, payload in _fields(memoryview(model)):
        if field == MODEL_GRAPH and wire == 2:
            for gfield, gwire, gpayload in _fields(payload):
                if gfield == GRAPH_INITIALIZER and gwire == 2 and (largest is None or len(gpayload) > len(largest)):
                    largest = bytes(gpayload)
    assert largest is not None and len(largest) > 1024
    tail = largest[-256:]
    at = model.find(tail)
    assert at > 0 and model.find(tail, at + 1) == -1
    data = bytearray(model)
    data[at + 128] ^= 0x55
    return bytes(data)
