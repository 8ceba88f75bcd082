"""Read / write the ``agegender_edge`` metadata of an ONNX ModelProto (toolchain side, needs
``onnx``, not torch): the one writer used by the exporter and by the FP16 / INT8 converters."""
from __future__ import annotations

from typing import Optional

from ..errors import ModelFormatError
from ..metadata import METADATA_KEY, ModelMetadata
from ..model_file import initializer_digest


def read_metadata(model, source: str = "<onnx>") -> ModelMetadata:
    props = {p.key: p.value for p in model.metadata_props}
    if METADATA_KEY not in props:
        raise ModelFormatError(f"{source}: ONNX model has no '{METADATA_KEY}' metadata (not exported by agegender-edge)")
    return ModelMetadata.from_json(props[METADATA_KEY], source)


def maybe_metadata(model) -> Optional[ModelMetadata]:
    try:
        return read_metadata(model)
    except ModelFormatError:
        return None


def write_metadata(model, meta: ModelMetadata, rehash: bool = True) -> ModelMetadata:
    """Store ``meta`` (with weights_sha256 recomputed over the model's initializers)."""
    if rehash:
        meta = meta.replace(weights_sha256=initializer_digest(model.SerializeToString()))
    del model.metadata_props[:]
    for key, value in ((METADATA_KEY, meta.to_json()), ("format_version", str(meta.format_version))):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = "agegender-edge"
    model.doc_string = f"{meta.name}: age group, age and gender from a face crop ({meta.architecture}, {meta.precision})"
    return meta
