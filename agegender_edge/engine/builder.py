"""ONNX -> TensorRT engine (+ sidecar JSON), one code path for TensorRT 8.5 to 11.x.

Precision paths (recipes.PRECISION_PATHS), chosen from what the installed TensorRT offers:
- FP16 on 8.5-10.x: the FP32 ONNX with BuilderFlag.FP16 ("builder-fp16"); the post-processing
  layers are pinned to FP32 (layer precision + OBEY_PRECISION_CONSTRAINTS), see graph.py.
- FP16 on 11.x (no FP16 flag; always strongly typed): the ONNX is first converted to mixed FP16
  (fp16.py) and built strongly typed ("strongly-typed-fp16"). Can be forced on 9.1-10.x too.
- INT8 on 8.5-10.x: BuilderFlag.INT8 + an entropy calibrator fed with training faces
  ("int8-calibrated"); on 10.x/11.x: an explicit Q/DQ ONNX (int8.py, target "tensorrt"),
  strongly typed ("int8-qdq").
The path that ran is recorded in the sidecar. Everything TensorRT-specific is feature-detected
(hasattr), not version-compared, except the V100 support limit (tensorrt_env).

This module imports tensorrt only inside functions; tests exercise the orchestration with a
stand-in module (tests/backends/test_tensorrt_standin.py), which is NOT TensorRT verification.
"""
from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from ..backends.tensorrt_env import (CudaRuntime, GpuInfo, check_tensorrt_supports_gpu, has_builder_fp16,
                                     import_tensorrt, tensorrt_version)
from ..errors import BackendUnavailableError, ModelError
from ..metadata import ModelMetadata
from ..model_file import file_sha256
from .cache import bytes_sha256
from .profile import BatchProfile
from .recipes import PRECISION_OF_PATH, PRECISION_PATHS, Recipe
from .sidecar import BuildSettings, EngineSidecar, atomic_write

log = logging.getLogger("agegender_edge")


class EngineBuildError(ModelError):
    """TensorRT could not parse or build the network."""


def choose_precision_path(trt, precision: str, requested: Optional[str] = None, has_calibration: bool = False) -> str:
    """The precision path this TensorRT can run for ``precision`` (or check a requested one)."""
    flag16 = has_builder_fp16(trt)
    flag8 = hasattr(trt.BuilderFlag, "INT8") and hasattr(trt, "IInt8EntropyCalibrator2")
    strongly = hasattr(trt, "NetworkDefinitionCreationFlag") and hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED") \
        or not flag16
    if requested:
        if requested not in PRECISION_PATHS:
            raise ValueError(f"unknown precision path {requested!r}")
        if PRECISION_OF_PATH[requested] != precision:
            raise ValueError(f"precision path {requested} gives {PRECISION_OF_PATH[requested]}, not {precision}")
        if requested == "builder-fp16" and not flag16:
            raise BackendUnavailableError(f"TensorRT {trt.__version__} has no BuilderFlag.FP16 (11.x is strongly "
                                          f"typed only): use precision path strongly-typed-fp16")
        if requested == "int8-calibrated" and not flag8:
            raise BackendUnavailableError(f"TensorRT {trt.__version__} has no implicit INT8 calibration: use int8-qdq")
        if requested in ("strongly-typed-fp16", "int8-qdq") and not strongly:
            raise BackendUnavailableError(f"TensorRT {trt.__version__} cannot build strongly typed networks (9.1+)")
        return requested
    if precision == "fp32":
        return "fp32"
    if precision == "fp16":
        return "builder-fp16" if flag16 else "strongly-typed-fp16"
    if precision == "int8":
        if flag8 and has_calibration:
            return "int8-calibrated"
        if strongly:
            return "int8-qdq"
        raise BackendUnavailableError("INT8 on this TensorRT needs calibration faces (--calibration)")
    raise ValueError(f"precision must be fp32, fp16 or int8, not {precision!r}")


@dataclass
class BuildResult:
    engine_bytes: bytes
    settings: BuildSettings
    io: dict[str, Any] = field(default_factory=dict)


def _trt_np_dtype(trt, dt) -> str:
    try:
        return np.dtype(trt.nptype(dt)).name
    except Exception:  # pragma: no cover - exotic types
        return str(dt)


def _pin_fp32(trt, network, fp32_names: set[str]) -> list[str]:
    """Weak typing: force FP32 on layers that are post-processing nodes (by layer name, or by an
    output tensor named like an ONNX tensor of a post-processing node)."""
    pinned = []
    float_types = {trt.float32, trt.float16}
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        outs = [layer.get_output(k) for k in range(layer.num_outputs)]
        hit = layer.name in fp32_names or any(o is not None and o.name in fp32_names for o in outs)
        if not hit:
            continue
        if not any(o is not None and o.dtype in float_types for o in outs):
            continue
        layer.precision = trt.float32
        for k, o in enumerate(outs):
            if o is not None and o.dtype in float_types:
                layer.set_output_type(k, trt.float32)
        pinned.append(layer.name)
    return pinned


def make_calibrator(trt, faces: np.ndarray, batch_size: int, cache_path: Optional[Path], cuda: CudaRuntime):
    """IInt8EntropyCalibrator2 over float32 NCHW faces (TensorRT 8.5-10.x only)."""

    class _Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.faces = np.ascontiguousarray(faces, dtype=np.float32)
            self.bs = batch_size
            self.pos = 0
            self.dev = cuda.malloc(self.faces[:batch_size].nbytes)

        def get_batch_size(self):
            return self.bs

        def get_batch(self, names):
            if self.pos + self.bs > len(self.faces):
                return None
            chunk = np.ascontiguousarray(self.faces[self.pos:self.pos + self.bs])
            self.pos += self.bs
            stream = cuda.stream_create()
            cuda.memcpy_async(self.dev, chunk.ctypes.data, chunk.nbytes, CudaRuntime.H2D, stream)
            cuda.stream_synchronize(stream)
            cuda.stream_destroy(stream)
            return [self.dev]

        def read_calibration_cache(self):
            if cache_path and Path(cache_path).is_file():
                return Path(cache_path).read_bytes()
            return None

        def write_calibration_cache(self, cache):
            if cache_path:
                atomic_write(Path(cache_path), bytes(cache))

    return _Calibrator()


def build_serialized(onnx_bytes: bytes, meta: ModelMetadata, settings: BuildSettings, trt=None,
                     fp32_names: Sequence[str] = (), calibration: Optional[np.ndarray] = None,
                     cuda: Optional[CudaRuntime] = None) -> BuildResult:
    """Parse + build. ``onnx_bytes`` must already be the variant the precision path needs."""
    trt = trt or import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    path = settings.precision_path
    flags = 0
    ncf = getattr(trt, "NetworkDefinitionCreationFlag", None)
    if ncf is not None and hasattr(ncf, "EXPLICIT_BATCH") and int(trt.__version__.split(".")[0]) < 10:
        flags |= 1 << int(ncf.EXPLICIT_BATCH)       # required on 8.x, deprecated no-op on 10, gone in 11
    if path in ("strongly-typed-fp16", "int8-qdq") and ncf is not None and hasattr(ncf, "STRONGLY_TYPED"):
        flags |= 1 << int(ncf.STRONGLY_TYPED)       # 9.1-10.x opt-in; accepted and implied on 11.x
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise EngineBuildError("TensorRT ONNX parser failed: " + "; ".join(errors[:5]))
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(settings.workspace_mib) << 20)
    prof = BatchProfile(**settings.profile)
    shapes = prof.shapes(meta.input.size)
    opt_profile = builder.create_optimization_profile()
    opt_profile.set_shape(meta.input.name, shapes["min"], shapes["opt"], shapes["max"])
    config.add_optimization_profile(opt_profile)
    pinned: list[str] = []
    if path == "builder-fp16":
        config.set_flag(trt.BuilderFlag.FP16)
        if fp32_names:
            if hasattr(trt.BuilderFlag, "OBEY_PRECISION_CONSTRAINTS"):
                config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
            pinned = _pin_fp32(trt, network, set(fp32_names))
    elif path == "int8-calibrated":
        if calibration is None or len(calibration) == 0:
            raise EngineBuildError("int8-calibrated needs calibration faces")
        config.set_flag(trt.BuilderFlag.INT8)
        if has_builder_fp16(trt):
            config.set_flag(trt.BuilderFlag.FP16)
        bs = min(prof.opt, len(calibration))
        config.int8_calibrator = make_calibrator(trt, calibration, bs, None, cuda or CudaRuntime())
        if hasattr(config, "set_calibration_profile"):
            cal = builder.create_optimization_profile()
            cal.set_shape(meta.input.name, *([(bs, 3) + tuple(meta.input.size)] * 3))
            config.set_calibration_profile(cal)
        if fp32_names:
            if hasattr(trt.BuilderFlag, "OBEY_PRECISION_CONSTRAINTS"):
                config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
            pinned = _pin_fp32(trt, network, set(fp32_names))
    if settings.builder_optimization_level is not None and hasattr(config, "builder_optimization_level"):
        config.builder_optimization_level = int(settings.builder_optimization_level)
    if settings.dla_core is not None:
        n = getattr(builder, "num_DLA_cores", 0)
        if settings.dla_core >= n:
            raise BackendUnavailableError(f"DLA core {settings.dla_core} requested but this device has {n} DLA core(s)")
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = int(settings.dla_core)
        if settings.gpu_fallback:
            config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
    timing_path = Path(settings.timing_cache) if settings.timing_cache else None
    cache_blob = timing_path.read_bytes() if timing_path and timing_path.is_file() else b""
    timing = config.create_timing_cache(cache_blob)
    config.set_timing_cache(timing, False)
    log.info("building TensorRT %s engine (%s, batch %s, workspace %d MiB)%s", trt.__version__, path,
             prof.as_dict(), settings.workspace_mib, f", DLA core {settings.dla_core}" if settings.dla_core is not None else "")
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineBuildError("TensorRT build_serialized_network failed (see the TensorRT log above)")
    if timing_path is not None:
        atomic_write(timing_path, bytes(config.get_timing_cache().serialize()))
    io = {}
    for i in range(network.num_inputs):
        t = network.get_input(i)
        io[t.name] = {"mode": "input", "dtype": _trt_np_dtype(trt, t.dtype), "shape": list(t.shape)}
    for i in range(network.num_outputs):
        t = network.get_output(i)
        io[t.name] = {"mode": "output", "dtype": _trt_np_dtype(trt, t.dtype), "shape": list(t.shape)}
    settings.fp32_layers = pinned
    return BuildResult(bytes(serialized), settings, io)


def onnx_variant_bytes(onnx_path: Path, path: str, calibration: Optional[np.ndarray] = None) -> bytes:
    """The ONNX bytes the precision path builds from (FP16 / Q/DQ conversion needs ``onnx``)."""
    data = Path(onnx_path).read_bytes()
    if path == "strongly-typed-fp16":
        import onnx

        from .fp16 import convert_to_fp16
        model = onnx.load_from_string(data)
        if any(i.data_type == onnx.TensorProto.FLOAT16 for i in model.graph.initializer):
            return data  # already mixed FP16
        return convert_to_fp16(model).SerializeToString()
    if path == "int8-qdq":
        import onnx

        model = onnx.load_from_string(data)
        if any(n.op_type == "QuantizeLinear" for n in model.graph.node):
            return data  # already Q/DQ
        if calibration is None:
            raise EngineBuildError("int8-qdq from an FP32 ONNX needs calibration faces (--calibration)")
        from .int8 import Int8Options, quantize_int8
        return quantize_int8(model, calibration, Int8Options(target="tensorrt")).SerializeToString()
    return data


def fp32_names_for(onnx_bytes: bytes) -> list[str]:
    """Post-processing node and tensor names (pinned to FP32 in weakly typed builds)."""
    try:
        import onnx
    except ImportError:
        log.warning("onnx not installed: post-processing layers are not pinned to FP32 (age_std may lose precision)")
        return []
    from .graph import partition
    model = onnx.load_from_string(onnx_bytes)
    names = set(partition(model).postprocess)
    by_name = {n.name: n for n in model.graph.node}
    for n in list(names):
        if n in by_name:
            names.update(by_name[n].output)
    return sorted(names)


def settings_from_recipe(recipe: Recipe, timing_cache: Optional[str] = None) -> BuildSettings:
    return BuildSettings(precision=recipe.precision, precision_path=recipe.precision_path,
                         profile=recipe.profile.as_dict(), workspace_mib=recipe.workspace_mib,
                         timing_cache=timing_cache or recipe.timing_cache, dla_core=recipe.dla_core,
                         gpu_fallback=recipe.gpu_fallback,
                         builder_optimization_level=recipe.builder_optimization_level, recipe=recipe.name)


def build_engine_file(onnx_path: Path, engine_path: Path, settings: BuildSettings, meta: ModelMetadata,
                      device_index: int = 0, calibration: Optional[np.ndarray] = None, trt=None,
                      cuda: Optional[CudaRuntime] = None, cache_key: Optional[str] = None,
                      store=None) -> EngineSidecar:
    """Build and write ``engine_path`` + ``<engine_path>.json``; returns the sidecar."""
    trt = trt or import_tensorrt()
    cuda = cuda or CudaRuntime()
    cuda.set_device(device_index)
    gpu: GpuInfo = cuda.device_info(device_index)
    version = tensorrt_version(trt)
    problem = check_tensorrt_supports_gpu(version, gpu)
    if problem:
        raise BackendUnavailableError(problem)
    settings.precision_path = choose_precision_path(trt, settings.precision, settings.precision_path or None,
                                                    has_calibration=calibration is not None)
    variant = onnx_variant_bytes(onnx_path, settings.precision_path, calibration)
    fp32 = fp32_names_for(variant) if settings.precision_path in ("builder-fp16", "int8-calibrated") else []
    result = build_serialized(variant, meta, settings, trt, fp32, calibration, cuda)
    side = EngineSidecar(
        metadata=meta.replace(precision=settings.precision), build=result.settings, tensorrt_version=version,
        gpu_name=gpu.name, compute_capability=gpu.compute_capability, onnx_sha256=file_sha256(onnx_path),
        engine_sha256=bytes_sha256(result.engine_bytes), cache_key=cache_key, onnx_file=Path(onnx_path).name,
        created_utc=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), io=result.io)
    if store is not None:
        store(engine_path, result.engine_bytes, side)
    else:
        atomic_write(Path(engine_path), result.engine_bytes)
        side.write(Path(engine_path))
    log.info("wrote %s (%.1f MB) and its sidecar", engine_path, len(result.engine_bytes) / 1e6)
    return side
