"""Choose and build a runner for ``Predictor(model=..., backend=..., device=...)``.

``backend="auto"`` order: TensorRT engine (a .engine file, or an ONNX built into the engine cache
when TensorRT and a GPU are present) -> ONNX Runtime TensorRT EP -> ONNX Runtime CUDA EP ->
ONNX Runtime CPU. Every step is logged with its reason (logger "agegender_edge", INFO; the
final fallback to CPU is a WARNING): a fallback is never silent, and an explicit request
(backend="tensorrt", device="cuda") that cannot be met raises BackendUnavailableError instead
of falling back.
"""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Optional

from ..errors import BackendUnavailableError, ModelError
from ..metadata import ModelMetadata
from .base import Runner
from .onnxruntime import OnnxRuntimeRunner, OrtOptions

log = logging.getLogger("agegender_edge")
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
BACKENDS = ("auto", "onnxruntime", "tensorrt")
ORT_TRT_WORKSPACE = 2 << 30


def ort_install_conflict() -> Optional[str]:
    """onnxruntime and onnxruntime-gpu share one folder: installed together, the CPU wheel's
    files can shadow the GPU build and the CUDA provider silently disappears."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for dist in ("onnxruntime", "onnxruntime-gpu"):
        try:
            found.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            pass
    if len(found) == 2:
        return (f"both {found[0]} and {found[1]} are installed; they overwrite each other's files and the "
                f"CUDA provider may be missing. Fix: pip uninstall -y onnxruntime onnxruntime-gpu && "
                f"pip install onnxruntime-gpu")
    return None


def available_ort_providers() -> list[str]:
    import onnxruntime as ort
    return list(ort.get_available_providers())


def _tensorrt_usable() -> tuple[bool, str]:
    if importlib.util.find_spec("tensorrt") is None:
        from ..install_hint import pip_install_extra
        return False, (f"the 'tensorrt' Python package is not installed ({pip_install_extra('gpu')}, or the extra "
                       f"for your GPU: docs/GPU.md)")
    try:
        from .tensorrt_env import cuda_device_count
    except ImportError as exc:  # pragma: no cover - only without the gpu extra
        return False, f"TensorRT runtime support unavailable ({exc})"
    n = cuda_device_count()
    if n == 0:
        return False, "no CUDA device found (or cuda-python missing: pip install cuda-python)"
    return True, ""


def _parse_device(device: Optional[str]) -> tuple[Optional[str], int]:
    if device is None or device == "auto":
        return None, 0
    kind, _, idx = str(device).partition(":")
    kind = kind.lower()
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', not {device!r}")
    return kind, int(idx or 0)


def ort_trt_options(idx: int, engine_cache_dir: Optional[Path], max_batch_size: int,
                    input_name: str = "input", input_size: tuple[int, int] = (96, 96)) -> dict:
    """TensorRT EP: FP16, persistent engine + timing cache, and a dynamic-batch profile (without
    an explicit profile the EP rebuilds its engine whenever a new batch size shows up)."""
    from ..engine.cache import default_cache_dir

    cache = Path(engine_cache_dir) if engine_cache_dir is not None else default_cache_dir() / "ort-trt-ep"
    h, w = input_size
    shape = lambda n: f"{input_name}:{n}x3x{h}x{w}"  # noqa: E731
    return {"device_id": idx, "trt_fp16_enable": True, "trt_max_workspace_size": ORT_TRT_WORKSPACE,
            "trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache),
            "trt_timing_cache_enable": True, "trt_timing_cache_path": str(cache),
            "trt_profile_min_shapes": shape(1), "trt_profile_opt_shapes": shape(max_batch_size),
            "trt_profile_max_shapes": shape(max_batch_size)}


def ort_providers_for(device: Optional[str], engine_cache_dir: Optional[Path] = None, max_batch_size: int = 32,
                      metadata: Optional[ModelMetadata] = None) -> list:
    """Provider list for ONNX Runtime, best first, logging each tier that is skipped."""
    kind, idx = _parse_device(device)
    if kind == "cpu":
        log.info("backend: device='cpu': ONNX Runtime CPU")
        return ["CPUExecutionProvider"]
    available = available_ort_providers()
    conflict = ort_install_conflict()
    chain: list = []
    if "TensorrtExecutionProvider" in available:
        name, size = (metadata.input.name, metadata.input.size) if metadata else ("input", (96, 96))
        chain.append(("TensorrtExecutionProvider", ort_trt_options(idx, engine_cache_dir, max_batch_size, name, size)))
        log.info("backend: ONNX Runtime TensorRT EP available (FP16, engine cache)")
    else:
        log.info("backend: ONNX Runtime TensorRT EP not available (providers: %s)", available)
    if "CUDAExecutionProvider" in available:
        chain.append(("CUDAExecutionProvider", {"device_id": idx}))
        log.info("backend: ONNX Runtime CUDA EP available")
    else:
        log.info("backend: ONNX Runtime CUDA EP not available%s", f" ({conflict})" if conflict else "")
    if kind == "cuda" and not chain:
        raise BackendUnavailableError(
            f"device={device!r} asked for a GPU but ONNX Runtime offers only {available}"
            + (f"; {conflict}" if conflict else "; ONNX Runtime's GPU providers need onnxruntime-gpu in place of "
               "onnxruntime: pip uninstall -y onnxruntime && pip install 'onnxruntime-gpu>=1.17' (docs/GPU.md)"))
    if kind is None and not chain:
        from .tensorrt_env import nvidia_gpu_present
        if nvidia_gpu_present():   # a GPU that goes unused is worth a warning; a laptop's CPU is not
            log.warning("backend: this machine has an NVIDIA GPU but ONNX Runtime offers no GPU execution provider "
                        "(providers: %s), running on CPU; %s", available,
                        conflict or "for GPU inference install the extra for your GPU (docs/GPU.md)")
        else:
            log.info("backend: no GPU on this machine: ONNX Runtime on CPU")
    chain.append("CPUExecutionProvider")
    return chain


def _input_spec_of(model: Path, metadata: Optional[ModelMetadata]) -> Optional[ModelMetadata]:
    """The model's metadata, read cheaply without onnx (for the TensorRT EP profile shapes)."""
    if metadata is not None or model.suffix.lower() != ".onnx":
        return metadata
    try:
        from ..metadata import METADATA_KEY
        from ..model_file import metadata_props
        props = metadata_props(model.read_bytes(), str(model))
        return ModelMetadata.from_json(props[METADATA_KEY], str(model)) if METADATA_KEY in props else None
    except Exception:  # unreadable here: the runner reports it properly when it loads the model
        return None


def create_runner(model: Path, backend: str = "auto", device: Optional[str] = None,
                  ort_options: OrtOptions = OrtOptions(), metadata: Optional[ModelMetadata] = None,
                  engine_cache_dir: Optional[Path] = None, max_batch_size: int = 32,
                  default_model: bool = False) -> Runner:
    """``default_model``: ``model`` is the SDK's built-in default (shipped.uses_builtin_default),
    so ONNX Runtime CPU may run its INT8 file instead (shipped.default_for_backend)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    model = Path(model)
    if not model.exists():   # before any backend probing, so this is the first (and only) thing reported
        raise ModelError(f"{model}: model file not found")
    is_engine = model.suffix.lower() in ENGINE_SUFFIXES
    if is_engine and backend == "onnxruntime":
        raise ModelError(f"{model}: a TensorRT engine cannot run on ONNX Runtime; pass the .onnx file")
    kind, _ = _parse_device(device)
    if kind == "cpu" and (is_engine or backend == "tensorrt"):
        raise BackendUnavailableError(f"TensorRT runs on a CUDA device, not device={device!r}")
    if is_engine or backend == "tensorrt" or (backend == "auto" and kind != "cpu"):
        usable, why = _tensorrt_usable()
        if usable:
            from .tensorrt import TensorRTRunner  # lazy: tensorrt is only imported here
            try:
                if is_engine:
                    log.info("backend: TensorRT engine %s", model.name)
                    return TensorRTRunner.from_engine(model, device=device)
                if default_model:  # logs that the GPU takes the FP32 file (TensorRT builds FP16 from it)
                    from ..shipped import default_for_backend
                    model = default_for_backend(model, on_gpu=True)
                log.info("backend: TensorRT from %s via the engine cache", model.name)
                return TensorRTRunner.from_onnx(model, device=device, cache_dir=engine_cache_dir,
                                                max_batch_size=max_batch_size)
            except BackendUnavailableError as exc:
                if is_engine or backend == "tensorrt":
                    raise
                why = str(exc)
        elif is_engine or backend == "tensorrt":
            raise BackendUnavailableError(f"TensorRT backend requested for {model.name} but {why}")
        log.info("backend: TensorRT skipped: %s", why)
    spec = _input_spec_of(model, metadata) if kind != "cpu" else metadata
    providers = ort_providers_for(device, engine_cache_dir, max_batch_size, spec)
    if default_model:
        from ..shipped import default_for_backend
        model = default_for_backend(model, on_gpu=providers[0] != "CPUExecutionProvider")
    return OnnxRuntimeRunner(model, providers=providers, options=ort_options, metadata=metadata)
