"""TensorRT / CUDA environment probing and the thin CUDA runtime wrapper the TensorRT runner uses.

Nothing here imports ``tensorrt`` or ``cuda`` at module import time: select.py imports this
module on every GPU-capable selection, including on machines without either.

Why cuda-python (``cuda.bindings.runtime``) and not pycuda: it is NVIDIA's own binding, what the
TensorRT samples use since they left pycuda, installs as a binary wheel (x86_64 and aarch64 /
Jetson, no compiler or CUDA headers needed, unlike pycuda's source build on Jetson), works with
the runtime API's primary context that TensorRT itself uses (no pycuda.autoinit context juggling
across threads), and exposes pinned host memory, streams and async copies, all we need.
Older cuda-python (< 12.6) exposes the same module as ``cuda.cudart``; both are accepted.
"""
from __future__ import annotations

import ctypes
import importlib
import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ..errors import BackendUnavailableError

log = logging.getLogger("agegender_edge")

# Last TensorRT release with sm_70 (V100): 10.5 dropped Volta.
V100_LAST_TRT = (10, 4)


def import_tensorrt():
    try:
        return importlib.import_module("tensorrt")
    except ImportError as exc:
        from ..install_hint import pip_install_extra
        raise BackendUnavailableError(
            f"the TensorRT backend needs the 'tensorrt' Python package ({exc}); on Jetson it comes with "
            f"JetPack (python3-libnvinfer), elsewhere: {pip_install_extra('gpu')} (or the extra for your GPU, "
            f"e.g. gpu-v100: docs/GPU.md)") from exc


def import_cudart():
    """``cuda.bindings.runtime`` (cuda-python >= 12.6) or ``cuda.cudart`` (older)."""
    for name in ("cuda.bindings.runtime", "cuda.cudart"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise BackendUnavailableError(
        "the TensorRT backend needs cuda-python for device buffers and streams: pip install cuda-python")


def cuda_device_count() -> int:
    """CUDA devices visible to the runtime API; 0 when cuda-python, the driver or a GPU is missing."""
    try:
        cudart = import_cudart()
    except BackendUnavailableError as exc:
        log.info("backend: %s", exc)
        return 0
    try:
        err, n = cudart.cudaGetDeviceCount()
    except Exception as exc:  # a broken driver install must not crash selection
        log.info("backend: cudaGetDeviceCount failed (%s)", exc)
        return 0
    if _code(err) != 0:
        log.info("backend: no usable CUDA device (%s)", _err_name(err))
        return 0
    return int(n)


def _code(err) -> int:
    try:
        return int(err)
    except (TypeError, ValueError):
        return int(getattr(err, "value", 1))


def _err_name(err) -> str:
    return getattr(err, "name", str(err))


def tensorrt_version(trt=None) -> str:
    trt = trt or import_tensorrt()
    return str(trt.__version__)


def version_tuple(v: str) -> tuple[int, int, int]:
    """(major, minor, patch): the leading digits of the first three dot-separated parts, missing
    parts 0 ("10.14.1.48.post1" -> (10, 14, 1)); the same rule as the C++ runtime."""
    parts = [int(re.match(r"\d*", p).group() or 0) for p in str(v).split(".")[:3]]
    return tuple(parts + [0] * (3 - len(parts)))  # type: ignore[return-value]


def normalise_tensorrt_version(v: str) -> str:
    """"10.3.0.26" (C++ headers, JetPack) and "10.3.0" (the Python wheels) -> "10.3.0".

    Engines are matched on major.minor.patch, the finest level both report; the engine cache key
    holds this form, so Python and the C++ runtime (engine_cache.cpp) share cached engines."""
    return ".".join(str(x) for x in version_tuple(v))


def tensorrt_versions_match(a: str, b: str) -> bool:
    return normalise_tensorrt_version(a) == normalise_tensorrt_version(b)


def has_builder_fp16(trt) -> bool:
    """TensorRT <= 10.x has BuilderFlag.FP16 (weak typing); 11.x removed it."""
    return hasattr(trt.BuilderFlag, "FP16")


def has_named_tensor_api(trt) -> bool:
    return hasattr(trt.IExecutionContext, "execute_async_v3") and hasattr(trt.IExecutionContext, "set_input_shape")


def is_jetson() -> bool:
    return os.path.exists("/etc/nv_tegra_release") or os.path.exists("/sys/module/tegra_fuse")


def nvidia_gpu_present() -> bool:
    """Whether this machine has an NVIDIA GPU, from what the kernel driver exposes (no CUDA
    library needed): /proc/driver/nvidia/gpus/<bus id> or /dev/nvidia<N>, or a Jetson board.
    Decides whether running on the CPU is worth a warning (a GPU that goes unused) or is simply
    the machine's only option (a laptop: no warning)."""
    try:
        with os.scandir("/proc/driver/nvidia/gpus") as it:
            if any(True for _ in it):
                return True
    except OSError:
        pass
    if any(name.startswith("nvidia") and name[6:].isdigit() for name in _listdir("/dev")):
        return True
    return is_jetson()


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    compute_capability: str     # "8.7"
    total_memory_mib: int

    @property
    def cc_tuple(self) -> tuple[int, int]:
        a, b = self.compute_capability.split(".")
        return int(a), int(b)


def check_tensorrt_supports_gpu(trt_version: str, gpu: GpuInfo) -> Optional[str]:
    """A clear reason when this TensorRT cannot build for this GPU (else None)."""
    v = version_tuple(trt_version)
    if gpu.cc_tuple == (7, 0) and v[:2] > V100_LAST_TRT:
        return (f"TensorRT {trt_version} does not support {gpu.name} (compute capability 7.0, Volta): "
                f"sm_70 support ended with TensorRT 10.4; install tensorrt>=8.6,<10.5 on V100 servers "
                f"(recipe v100-trt10-fp16)")
    if v[0] < 8 or (v[0] == 8 and v[1] < 5):
        return f"TensorRT {trt_version} is older than 8.5 (no named-tensor API); this SDK supports 8.5 to 11.x"
    return None


class CudaError(BackendUnavailableError):
    pass


class CudaRuntime:
    """The few CUDA runtime calls the runner needs, with errors turned into exceptions.

    Pointers are plain ints. Pinned host buffers are exposed as numpy arrays over the pinned
    memory, so filling an input and reading an output never copies through pageable memory.
    """

    H2D = "h2d"
    D2H = "d2h"

    def __init__(self, cudart=None):
        self.rt = cudart or import_cudart()

    def _check(self, result, what: str):
        if isinstance(result, tuple):
            err, *rest = result
        else:
            err, rest = result, []
        if _code(err) != 0:
            raise CudaError(f"CUDA {what} failed: {_err_name(err)}")
        return rest[0] if len(rest) == 1 else (tuple(rest) if rest else None)

    def set_device(self, index: int) -> None:
        self._check(self.rt.cudaSetDevice(index), f"cudaSetDevice({index})")

    def device_info(self, index: int) -> GpuInfo:
        props = self._check(self.rt.cudaGetDeviceProperties(index), "cudaGetDeviceProperties")
        name = props.name.decode(errors="replace") if isinstance(props.name, (bytes, bytearray)) else str(props.name)
        name = name.split("\x00", 1)[0].strip()
        return GpuInfo(index, name, f"{props.major}.{props.minor}", int(props.totalGlobalMem) // (1 << 20))

    def malloc(self, nbytes: int) -> int:
        return int(self._check(self.rt.cudaMalloc(nbytes), f"cudaMalloc({nbytes})"))

    def free(self, ptr: int) -> None:
        self._check(self.rt.cudaFree(ptr), "cudaFree")

    def malloc_host(self, nbytes: int) -> int:
        return int(self._check(self.rt.cudaMallocHost(nbytes), f"cudaMallocHost({nbytes})"))

    def free_host(self, ptr: int) -> None:
        self._check(self.rt.cudaFreeHost(ptr), "cudaFreeHost")

    @staticmethod
    def host_array(ptr: int, shape: tuple[int, ...], dtype) -> np.ndarray:
        """A numpy view of pinned memory at ``ptr`` (the caller keeps the allocation alive)."""
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        buf = (ctypes.c_byte * nbytes).from_address(ptr)
        return np.frombuffer(buf, dtype=dtype).reshape(shape)

    def stream_create(self) -> Any:
        return self._check(self.rt.cudaStreamCreate(), "cudaStreamCreate")

    def stream_destroy(self, stream) -> None:
        self._check(self.rt.cudaStreamDestroy(stream), "cudaStreamDestroy")

    def stream_handle(self, stream) -> int:
        """The integer handle execute_async_v3 takes."""
        return int(stream)

    def memcpy_async(self, dst: int, src: int, nbytes: int, kind: str, stream) -> None:
        k = (self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice if kind == self.H2D
             else self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost)
        self._check(self.rt.cudaMemcpyAsync(dst, src, nbytes, k, stream), f"cudaMemcpyAsync({kind})")

    def stream_synchronize(self, stream) -> None:
        self._check(self.rt.cudaStreamSynchronize(stream), "cudaStreamSynchronize")
