"""Read what the runtime needs from an ONNX file without the ``onnx`` package.

The runtime must not depend on ``onnx`` (the toolchain does), so this walks the protobuf wire
format directly: enough to hash the graph's initializers (the weights) for the integrity check and
to read the model's ``metadata_props``. Nothing here executes or unpickles anything.
ModelProto field 7 = graph, 14 = metadata_props; GraphProto field 5 = initializer (TensorProto,
repeated); StringStringEntryProto field 1 = key, 2 = value.
"""
from __future__ import annotations

import hashlib
from typing import Iterator

from .errors import ModelError, ModelIntegrityError

_MODEL_GRAPH = 7
_MODEL_METADATA_PROPS = 14
_GRAPH_INITIALIZER = 5


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ModelError("truncated protobuf varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ModelError("malformed protobuf varint")


def _fields(buf: memoryview) -> Iterator[tuple[int, int, memoryview]]:
    """Yield (field number, wire type, payload) of one protobuf message."""
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            start = pos
            _, pos = _varint(buf, pos)
            yield field, wire, buf[start:pos]
        elif wire == 1:
            if pos + 8 > n:
                raise ModelError("truncated protobuf message (file cut short?)")
            yield field, wire, buf[pos:pos + 8]
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > n:
                raise ModelError("truncated protobuf field (file cut short?)")
            yield field, wire, buf[pos:pos + length]
            pos += length
        elif wire == 5:
            if pos + 4 > n:
                raise ModelError("truncated protobuf message (file cut short?)")
            yield field, wire, buf[pos:pos + 4]
            pos += 4
        else:
            raise ModelError(f"unsupported protobuf wire type {wire} (not an ONNX file?)")


def initializer_digest(model_bytes: bytes, source: str = "<model>") -> str:
    """sha256 over the serialized initializers of the main graph, in file order (each prefixed by
    its length). ModelError naming ``source`` when the bytes are not a readable ONNX model."""
    h = hashlib.sha256()
    count = 0
    try:
        for field, wire, payload in _fields(memoryview(model_bytes)):
            if field == _MODEL_GRAPH and wire == 2:
                for gfield, gwire, gpayload in _fields(payload):
                    if gfield == _GRAPH_INITIALIZER and gwire == 2:
                        h.update(len(gpayload).to_bytes(8, "little"))
                        h.update(gpayload)
                        count += 1
    except ModelError as exc:
        raise ModelError(f"{source}: cannot read the ONNX file: {exc}") from None
    if count == 0:
        raise ModelError(f"{source}: ONNX graph has no initializers (not a trained model, or truncated)")
    return h.hexdigest()


def metadata_props(model_bytes: bytes, source: str = "<model>") -> dict[str, str]:
    """The ModelProto ``metadata_props`` as a dict (the last entry wins for a repeated key)."""
    props: dict[str, str] = {}
    try:
        for field, wire, payload in _fields(memoryview(model_bytes)):
            if field == _MODEL_METADATA_PROPS and wire == 2:
                key = value = ""
                for efield, ewire, epayload in _fields(payload):
                    if ewire == 2 and efield in (1, 2):
                        text = bytes(epayload).decode("utf-8", errors="replace")
                        if efield == 1:
                            key = text
                        else:
                            value = text
                props[key] = value
    except ModelError as exc:
        raise ModelError(f"{source}: cannot read the ONNX file: {exc}") from None
    return props


def verify_weights(model_bytes: bytes, expected_sha256: str, source: str = "<model>") -> str:
    """Check the initializer digest against the one recorded in the metadata; return it.
    ModelIntegrityError naming ``source`` on a mismatch."""
    digest = initializer_digest(model_bytes, source)
    if digest != expected_sha256:
        raise ModelIntegrityError(
            f"{source}: weights checksum {digest[:12]}... does not match the recorded "
            f"{str(expected_sha256)[:12]}... (file altered or corrupted)")
    return digest


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
