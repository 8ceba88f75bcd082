"""ONNX Runtime runner: CPU everywhere, CUDA / TensorRT execution providers with onnxruntime-gpu.

The model file is read once: its weights are hashed against the checksum in its metadata
(integrity), then the session is created from the same bytes.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import BackendUnavailableError, ModelError, ModelFormatError, ModelIntegrityError
from ..metadata import (METADATA_KEY, OUTPUT_AGE_BINS, OUTPUT_AGE_GROUP, OUTPUT_EMBEDDING, OUTPUT_GENDER,
                        OUTPUT_NAMES, ModelMetadata)
from ..model_file import initializer_digest
from .base import Runner

log = logging.getLogger("agegender_edge")


@dataclass(frozen=True)
class OrtOptions:
    """Session options; defaults chosen by measurement on a 2-core CPU (benchmarks/)."""

    intra_op_threads: int = 0          # 0 = ONNX Runtime's default (one per physical core)
    inter_op_threads: int = 1
    allow_spinning: bool = True        # spin-wait between batches: lower latency, busier CPU
    graph_optimization: str = "all"    # "disable" | "basic" | "extended" | "all"
    sequential: bool = True


def read_model_bytes(path: Path) -> bytes:
    if not path.exists():
        raise ModelError(f"{path}: model file not found")
    if not path.is_file():
        raise ModelError(f"{path}: model path is not a file")
    data = path.read_bytes()
    if not data:
        raise ModelError(f"{path}: model file is empty")
    return data


def metadata_from_session(sess, source: str) -> ModelMetadata:
    props = sess.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in props:
        raise ModelFormatError(
            f"{source}: ONNX model has no '{METADATA_KEY}' metadata (not exported by agegender-edge); "
            f"pass metadata=ModelMetadata(...) to describe its preprocessing explicitly"
        )
    return ModelMetadata.from_json(props[METADATA_KEY], source)


def check_io(sess, meta: ModelMetadata, source: str) -> None:
    inputs = {i.name: i for i in sess.get_inputs()}
    if meta.input.name not in inputs:
        raise ModelFormatError(f"{source}: model has no input named '{meta.input.name}' (has {list(inputs)})")
    shape = inputs[meta.input.name].shape
    h, w = meta.input.size
    if len(shape) != 4 or (isinstance(shape[2], int) and shape[2] != h) or (isinstance(shape[3], int) and shape[3] != w):
        raise ModelFormatError(f"{source}: input shape {shape} does not match metadata size {h}x{w}")
    outputs = {o.name: o.shape for o in sess.get_outputs()}
    missing = [n for n in OUTPUT_NAMES if n not in outputs]
    if missing:
        raise ModelFormatError(f"{source}: model lacks output(s) {missing}")
    # the label lists must match the output widths, or decoding would index past them / drop classes
    for name, labels in ((OUTPUT_GENDER, meta.gender_labels), (OUTPUT_AGE_GROUP, meta.age_groups),
                         (OUTPUT_AGE_BINS, meta.age_bins)):
        shape = outputs[name]
        width = shape[1] if len(shape) == 2 else None
        if len(shape) != 2 or (isinstance(width, int) and width != len(labels)) or not labels:
            raise ModelFormatError(f"{source}: output '{name}' has {width if width is not None else shape} values "
                                   f"per face but the metadata lists {len(labels)}")
    if meta.embedding is not None:   # the optional descriptor: present and as wide as the metadata says
        shape = outputs.get(OUTPUT_EMBEDDING)
        if shape is None:
            raise ModelFormatError(f"{source}: metadata describes an '{OUTPUT_EMBEDDING}' output the model lacks")
        if len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != meta.embedding.dim):
            raise ModelFormatError(f"{source}: output '{OUTPUT_EMBEDDING}' has shape {shape}, the metadata says "
                                   f"{meta.embedding.dim} values per face")


class OnnxRuntimeRunner(Runner):
    name = "onnxruntime"

    def __init__(self, model_path: str | Path, providers: Optional[Sequence] = None,
                 options: OrtOptions = OrtOptions(), metadata: Optional[ModelMetadata] = None,
                 verify_checksum: bool = True):
        super().__init__()
        self.model_path = Path(model_path)
        self.providers = list(providers) if providers else ["CPUExecutionProvider"]
        self.options = options
        self._explicit_metadata = metadata
        self.verify_checksum = verify_checksum
        self._meta: Optional[ModelMetadata] = None
        self._sess = None
        self._input_name = metadata.input.name if metadata else "input"

    @property
    def metadata(self) -> ModelMetadata:
        if self._meta is None:
            raise RuntimeError("runner not active: metadata is read when the model is loaded")
        return self._meta

    def _session_options(self):
        import onnxruntime as ort

        so = ort.SessionOptions()
        o = self.options
        so.intra_op_num_threads = o.intra_op_threads
        so.inter_op_num_threads = o.inter_op_threads
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL if o.sequential else ort.ExecutionMode.ORT_PARALLEL
        levels = {"disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
                  "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                  "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                  "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
        so.graph_optimization_level = levels[o.graph_optimization]
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if o.allow_spinning else "0")
        return so

    def _activate(self) -> None:
        import onnxruntime as ort

        source = str(self.model_path)
        data = read_model_bytes(self.model_path)
        try:
            sess = ort.InferenceSession(data, sess_options=self._session_options(), providers=self.providers)
        except Exception as exc:  # ORT raises its own Fail/InvalidProtobuf/... types
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if "provider" in msg.lower():
                raise BackendUnavailableError(f"{source}: ONNX Runtime providers {self.providers} unavailable ({msg})") from exc
            raise ModelError(f"{source}: ONNX Runtime cannot load this model (truncated or not ONNX?): {msg}") from exc
        meta = self._explicit_metadata or metadata_from_session(sess, source)
        if self.verify_checksum and self._explicit_metadata is None and meta.weights_sha256:
            digest = initializer_digest(data, source)
            if digest != meta.weights_sha256:
                raise ModelIntegrityError(
                    f"{source}: weights checksum {digest[:12]}... does not match the recorded "
                    f"{meta.weights_sha256[:12]}... (file altered or corrupted)")
        check_io(sess, meta, source)
        self._meta, self._sess = meta, sess
        self._input_name = meta.input.name
        self._outputs = list(self.output_names)
        active = sess.get_providers()
        if active[0] != self.providers[0] if not isinstance(self.providers[0], tuple) else active[0] != self.providers[0][0]:
            log.warning("ONNX Runtime fell back to %s (asked for %s)", active, self.providers)
        log.info("backend: onnxruntime %s, providers %s, model %s", ort.__version__, active, self.model_path.name)

    def _deactivate(self) -> None:
        self._sess = None

    def _infer(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        outs = self._sess.run(self._outputs, {self._input_name: batch})
        return {n: np.asarray(o, dtype=np.float32) for n, o in zip(self._outputs, outs)}

    @property
    def active_providers(self) -> list[str]:
        return self._sess.get_providers() if self._sess is not None else []

    def describe(self) -> str:
        return f"onnxruntime [{', '.join(self.active_providers or [str(p) for p in self.providers])}]"
