"""TensorRT runner: a serialized engine (with its sidecar JSON) on one GPU.

- ``from_engine(path)``: an engine built by ``agegender-edge export --format engine``; the sidecar
  must match the engine bytes (sha256), this TensorRT version and this GPU's compute capability,
  else a clear error is raised before TensorRT ever sees the bytes. Engines are deserialized with
  ``engine_host_code_allowed = False`` (TensorRT 8.6+, where the switch exists; the C++ runner
  does the same): an engine from elsewhere cannot bring code.
- ``from_onnx(path)``: the engine cache (engine/cache.py) builds once and reuses.

Inference: pinned host buffers and device buffers sized once for the profile's max batch, one
CUDA stream, async H2D -> execute_async_v3 -> D2H, one synchronise per chunk. Requests larger
than the profile max are split; smaller than the profile min (static DLA profiles) are padded.
Outputs are float32, batch-first, named as metadata.OUTPUT_NAMES (plus ``embedding`` when the
model has the descriptor): the same as ONNX Runtime.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..errors import BackendUnavailableError, ModelError, ModelFormatError, ModelIntegrityError
from ..metadata import OUTPUT_EMBEDDING, OUTPUT_NAMES, ModelMetadata
from ..model_file import file_sha256, initializer_digest
from .base import Runner
from .tensorrt_env import (CudaRuntime, check_tensorrt_supports_gpu, import_tensorrt, tensorrt_version)

log = logging.getLogger("agegender_edge")


def parse_device_index(device: Optional[str]) -> int:
    if device is None or device in ("auto", "cuda"):
        return 0
    kind, _, idx = str(device).partition(":")
    if kind.lower() != "cuda":
        raise BackendUnavailableError(f"the TensorRT backend runs on CUDA devices, not {device!r}")
    return int(idx or 0)


@dataclass
class _Binding:
    name: str
    is_input: bool
    dtype: np.dtype
    max_shape: tuple[int, ...]
    host_ptr: int = 0
    dev_ptr: int = 0
    host: Optional[np.ndarray] = None   # pinned, max_shape

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.max_shape[1:], dtype=np.int64)) * self.dtype.itemsize


class TensorRTRunner(Runner):
    name = "tensorrt"

    def __init__(self, engine_path: Optional[Path] = None, onnx_path: Optional[Path] = None,
                 device_index: int = 0, cache_dir: Optional[Path] = None, precision: str = "fp16",
                 max_batch_size: int = 32, trt: Any = None, cuda: Optional[CudaRuntime] = None):
        super().__init__()
        if (engine_path is None) == (onnx_path is None):
            raise ValueError("give exactly one of engine_path / onnx_path")
        self.engine_path = Path(engine_path) if engine_path else None
        self.onnx_path = Path(onnx_path) if onnx_path else None
        self.device_index = device_index
        self.cache_dir = cache_dir
        self.precision = precision
        self.requested_max_batch = max_batch_size
        self._trt = trt or import_tensorrt()
        self._cuda = cuda or CudaRuntime()
        self._version = tensorrt_version(self._trt)
        self._cuda.set_device(device_index)
        self.gpu = self._cuda.device_info(device_index)
        problem = check_tensorrt_supports_gpu(self._version, self.gpu)
        if problem:
            raise BackendUnavailableError(problem)
        self._meta: Optional[ModelMetadata] = None
        self.sidecar = None
        self.profile = None
        self._engine = self._context = self._stream = None
        self._bindings: dict[str, _Binding] = {}
        self.cache_decision = None

    # -- construction used by backends/select.py ------------------------------------------------
    @classmethod
    def from_engine(cls, path: Path, device: Optional[str] = None, **kw) -> "TensorRTRunner":
        return cls(engine_path=Path(path), device_index=parse_device_index(device), **kw)

    @classmethod
    def from_onnx(cls, path: Path, device: Optional[str] = None, cache_dir: Optional[Path] = None,
                  max_batch_size: int = 32, precision: str = "fp16", **kw) -> "TensorRTRunner":
        return cls(onnx_path=Path(path), device_index=parse_device_index(device), cache_dir=cache_dir,
                   precision=precision, max_batch_size=max_batch_size, **kw)

    # -- Runner API --------------------------------------------------------------------------
    @property
    def metadata(self) -> ModelMetadata:
        if self._meta is None:
            raise RuntimeError("runner not active: metadata is read when the engine is loaded")
        return self._meta

    @property
    def max_batch_size(self) -> Optional[int]:
        return self.profile.max if self.profile is not None else None

    def _resolve_engine(self) -> Path:
        if self.engine_path is not None:
            return self.engine_path
        from ..engine.builder import build_engine_file
        from ..engine.cache import EngineCache, EngineCacheKey
        from ..engine.onnx_meta import read_metadata
        from ..engine.profile import BatchProfile
        from ..engine.sidecar import BuildSettings
        from .onnxruntime import read_model_bytes

        data = read_model_bytes(self.onnx_path)
        profile = BatchProfile.for_max_batch(self.requested_max_batch)
        key = EngineCacheKey(onnx_sha256=file_sha256(self.onnx_path), tensorrt_version=self._version,
                             gpu_name=self.gpu.name, compute_capability=self.gpu.compute_capability,
                             precision=self.precision, profile=profile)
        cache = EngineCache(self.cache_dir)
        decision = cache.decide(self.onnx_path.stem, key)
        self.cache_decision = decision
        if decision.action == "build":
            log.info("engine cache: building %s (%s); this runs once per model, TensorRT and GPU",
                     decision.path.name, decision.reason)
            meta = _metadata_of_onnx(data, str(self.onnx_path), read_metadata)
            if meta.weights_sha256 and initializer_digest(data) != meta.weights_sha256:
                raise ModelIntegrityError(f"{self.onnx_path}: weights checksum does not match the recorded "
                                          f"{meta.weights_sha256[:12]}... (file altered or corrupted)")
            settings = BuildSettings(precision=self.precision, profile=profile.as_dict(),
                                     timing_cache=str(cache.directory / f"timing-trt{self._version}-sm{self.gpu.compute_capability}.cache"))
            build_engine_file(self.onnx_path, decision.path, settings, meta, self.device_index,
                              trt=self._trt, cuda=self._cuda, cache_key=key.digest, store=cache.store)
        else:
            log.info("engine cache: using %s", decision.path)
        return decision.path

    def _activate(self) -> None:
        from ..engine.cache import bytes_sha256
        from ..engine.profile import BatchProfile
        from ..engine.sidecar import EngineSidecar

        trt, cuda = self._trt, self._cuda
        cuda.set_device(self.device_index)
        path = self._resolve_engine()
        if not path.is_file():
            raise ModelError(f"{path}: engine file not found")
        side = EngineSidecar.read(path)
        blob = path.read_bytes()
        why = side.mismatches(self._version, self.gpu.compute_capability, engine_sha256=bytes_sha256(blob))
        if why:
            raise ModelError(f"{path}: engine cannot be used here: " + "; ".join(why) +
                             " (rebuild it: agegender-edge export --onnx MODEL.onnx --format engine)")
        if side.gpu_name != self.gpu.name:
            log.warning("engine %s was built on '%s', running on '%s' (same compute capability): "
                        "tactics may be slower than a local build", path.name, side.gpu_name, self.gpu.name)
        logger = trt.Logger(trt.Logger.WARNING)
        runtime = trt.Runtime(logger)
        if hasattr(runtime, "engine_host_code_allowed"):
            runtime.engine_host_code_allowed = False
        engine = runtime.deserialize_cuda_engine(blob)
        if engine is None:
            raise ModelError(f"{path}: TensorRT could not deserialize the engine")
        meta = side.metadata
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        if meta.input.name not in names:
            raise ModelFormatError(f"{path}: engine has no input '{meta.input.name}' (has {names})")
        missing = [n for n in OUTPUT_NAMES if n not in names]
        if meta.embedding is not None and OUTPUT_EMBEDDING not in names:
            missing.append(OUTPUT_EMBEDDING)   # the sidecar's metadata promises the descriptor
        if missing:
            raise ModelFormatError(f"{path}: engine lacks output(s) {missing}")
        if hasattr(engine, "get_tensor_profile_shape"):   # named-tensor API (8.5+)
            shapes = engine.get_tensor_profile_shape(meta.input.name, 0)
        else:  # pragma: no cover - pre-8.5 bindings are refused earlier; kept for odd builds
            shapes = engine.get_profile_shape(0, meta.input.name)
        mn, opt, mx = (tuple(int(d) for d in s) for s in shapes)
        self.profile = BatchProfile(int(mn[0]), int(opt[0]), int(mx[0]))
        h, w = meta.input.size
        if tuple(mx[1:]) != (3, h, w):
            raise ModelFormatError(f"{path}: engine input {list(mx)} does not match metadata {h}x{w}")
        context = engine.create_execution_context()
        if context is None:
            raise BackendUnavailableError(f"{path}: TensorRT could not create an execution context (GPU memory?)")
        context.set_input_shape(meta.input.name, tuple(mx))
        self._engine, self._context, self._meta, self.sidecar = engine, context, meta, side
        try:
            self._stream = cuda.stream_create()
            outputs = OUTPUT_NAMES + ((OUTPUT_EMBEDDING,) if meta.embedding is not None else ())
            for n in [meta.input.name, *outputs]:
                is_in = n == meta.input.name
                shape = tuple(int(d) for d in (mx if is_in else context.get_tensor_shape(n)))
                if any(d < 0 for d in shape):
                    raise ModelFormatError(f"{path}: cannot size output {n} (shape {shape} at max batch)")
                b = _Binding(n, is_in, np.dtype(trt.nptype(engine.get_tensor_dtype(n))), shape)
                nbytes = int(np.prod(shape)) * b.dtype.itemsize
                b.host_ptr = cuda.malloc_host(nbytes)
                b.host = cuda.host_array(b.host_ptr, shape, b.dtype)
                b.dev_ptr = cuda.malloc(nbytes)
                context.set_tensor_address(n, b.dev_ptr)
                self._bindings[n] = b
        except BaseException:
            self._free()
            raise
        log.info("backend: TensorRT %s on %s (cc %s), engine %s, %s, batch profile %s", self._version, self.gpu.name,
                 self.gpu.compute_capability, path.name, side.build.precision_path or side.build.precision,
                 self.profile.as_dict())

    def _free(self) -> None:
        cuda = self._cuda
        for b in self._bindings.values():
            b.host = None
            if b.dev_ptr:
                cuda.free(b.dev_ptr)
            if b.host_ptr:
                cuda.free_host(b.host_ptr)
        self._bindings = {}
        if self._stream is not None:
            cuda.stream_destroy(self._stream)
        self._stream = None
        self._context = self._engine = None

    def _deactivate(self) -> None:
        self._free()

    def _infer(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        n = len(batch)
        inp = self._bindings[self.metadata.input.name]
        outs = [self._bindings[name] for name in self.output_names]
        result = {o.name: np.empty((n,) + o.max_shape[1:], dtype=np.float32) for o in outs}
        cuda, ctx, stream = self._cuda, self._context, self._stream
        if self.device_index:
            cuda.set_device(self.device_index)   # the current device is per host thread
        handle = cuda.stream_handle(stream)
        for s, e in self.profile.chunks(n):
            rows = e - s
            run = self.profile.padded_size(rows)
            inp.host[:rows] = batch[s:e]           # cast to the engine's input dtype if needed
            if run > rows:
                inp.host[rows:run] = 0
            ctx.set_input_shape(inp.name, (run,) + inp.max_shape[1:])
            cuda.memcpy_async(inp.dev_ptr, inp.host_ptr, run * inp.row_bytes, CudaRuntime.H2D, stream)
            if not ctx.execute_async_v3(handle):
                raise ModelError("TensorRT execute_async_v3 failed (see the TensorRT log)")
            for o in outs:
                cuda.memcpy_async(o.host_ptr, o.dev_ptr, run * o.row_bytes, CudaRuntime.D2H, stream)
            cuda.stream_synchronize(stream)
            for o in outs:
                result[o.name][s:e] = o.host[:rows]
        return result

    def describe(self) -> str:
        path = self.sidecar.build.precision_path if self.sidecar else self.precision
        prof = self.profile.as_dict() if self.profile else {}
        return f"tensorrt {self._version} [{self.gpu.name}, cc {self.gpu.compute_capability}, {path}, batch {prof}]"


def _metadata_of_onnx(data: bytes, source: str, read_metadata) -> ModelMetadata:
    try:
        import onnx
    except ImportError:
        # without the toolchain: read the metadata through ONNX Runtime (always installed)
        import onnxruntime as ort

        from .onnxruntime import metadata_from_session
        sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        return metadata_from_session(sess, source)
    return read_metadata(onnx.load_from_string(data), source)
