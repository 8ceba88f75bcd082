"""Choose and build a runner for ``Predictor(model=..., backend=..., device=...)``.

``backend="auto"`` order: TensorRT engine (a .engine file, or an ONNX built into the engine cache
when TensorRT and a GPU are present) -> ONNX Runtime TensorRT EP -> ONNX Runtime CUDA EP ->
ONNX Runtime CPU. Every step that is skipped is logged with its reason: a fallback to CPU is
never silent, and an explicit request (backend="tensorrt", device="cuda") that cannot be met
raises BackendUnavailableError instead of falling back.
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
        return False, "the 'tensorrt' Python package is not installed (pip install 'agegender-edge[gpu]')"
    try:
        from .tensorrt_env import cuda_device_count
    except ImportError as exc:  # pragma: no cover - only without the gpu extra
        return False, f"TensorRT runtime support unavailable ({exc})"
    n = cuda_device_count()
    if n == 0:
        return False, "no CUDA device found"
    return True, ""


def _parse_device(device: Optional[str]) -> tuple[Optional[str], int]:
    if device is None or device == "auto":
        return None, 0
    kind, _, idx = str(device).partition(":")
    kind = kind.lower()
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', not {device!r}")
    return kind, int(idx or 0)


def ort_providers_for(device: Optional[str], engine_cache_dir: Optional[Path] = None) -> list:
    """Provider list for ONNX Runtime, best first, logging each tier that is skipped."""
    kind, idx = _parse_device(device)
    if kind == "cpu":
        return ["CPUExecutionProvider"]
    available = available_ort_providers()
    conflict = ort_install_conflict()
    chain: list = []
    if "TensorrtExecutionProvider" in available:
        opts = {"device_id": idx, "trt_fp16_enable": True}
        if engine_cache_dir is not None:
            opts.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(engine_cache_dir))
        chain.append(("TensorrtExecutionProvider", opts))
    else:
        log.info("backend: ONNX Runtime TensorRT EP not available (providers: %s)", available)
    if "CUDAExecutionProvider" in available:
        chain.append(("CUDAExecutionProvider", {"device_id": idx}))
    else:
        log.info("backend: ONNX Runtime CUDA EP not available%s", f" ({conflict})" if conflict else "")
    if kind == "cuda" and not chain:
        raise BackendUnavailableError(
            f"device={device!r} asked for a GPU but ONNX Runtime offers only {available}"
            + (f"; {conflict}" if conflict else "; install onnxruntime-gpu (pip install 'agegender-edge[gpu]')"))
    if kind is None and not chain:
        log.warning("backend: no GPU execution provider available, running ONNX Runtime on CPU")
    chain.append("CPUExecutionProvider")
    return chain


def create_runner(model: Path, backend: str = "auto", device: Optional[str] = None,
                  ort_options: OrtOptions = OrtOptions(), metadata: Optional[ModelMetadata] = None,
                  engine_cache_dir: Optional[Path] = None, max_batch_size: int = 32) -> Runner:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    model = Path(model)
    is_engine = model.suffix.lower() in ENGINE_SUFFIXES
    if is_engine and backend == "onnxruntime":
        raise ModelError(f"{model}: a TensorRT engine cannot run on ONNX Runtime; pass the .onnx file")
    kind, _ = _parse_device(device)
    if is_engine or backend == "tensorrt" or (backend == "auto" and kind != "cpu"):
        usable, why = _tensorrt_usable()
        if usable:
            from .tensorrt import TensorRTRunner  # lazy: tensorrt is only imported here
            if is_engine:
                return TensorRTRunner.from_engine(model, device=device)
            return TensorRTRunner.from_onnx(model, device=device, cache_dir=engine_cache_dir,
                                            max_batch_size=max_batch_size)
        if is_engine or backend == "tensorrt":
            raise BackendUnavailableError(f"TensorRT backend requested for {model.name} but {why}")
        log.info("backend: TensorRT skipped: %s", why)
    return OnnxRuntimeRunner(model, providers=ort_providers_for(device, engine_cache_dir),
                             options=ort_options, metadata=metadata)
