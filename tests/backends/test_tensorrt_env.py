"""tensorrt_env without TensorRT: device probing degrades to 0 devices with a reason, the V100 /
TensorRT support rule, and API conformance of our CUDA wrapper with the installed cuda-python
(import paths and the functions/enums we call). No GPU is touched."""
from __future__ import annotations

import importlib.util
import os

import pytest

from agegender_edge.backends import tensorrt_env as env
from agegender_edge.errors import BackendUnavailableError

HAS_CUDA_PYTHON = any(importlib.util.find_spec(m) is not None for m in ("cuda.bindings", "cuda.cudart")) \
    if importlib.util.find_spec("cuda") is not None else False
NO_GPU = not os.path.exists("/dev/nvidia0") and not os.path.exists("/dev/nvhost-ctrl")


def test_v100_rule_and_minimum_version():
    v100 = env.GpuInfo(0, "Tesla V100-PCIE-32GB", "7.0", 32000)
    orin = env.GpuInfo(0, "Orin", "8.7", 30000)
    assert env.check_tensorrt_supports_gpu("10.4.0", v100) is None
    assert env.check_tensorrt_supports_gpu("8.6.1", v100) is None
    for bad in ("10.5.0", "10.13.2", "11.0.0"):
        msg = env.check_tensorrt_supports_gpu(bad, v100)
        assert msg and "10.4" in msg and "V100" in msg
    assert env.check_tensorrt_supports_gpu("11.0.0", orin) is None
    assert env.check_tensorrt_supports_gpu("10.3.0", orin) is None
    assert "older than 8.5" in env.check_tensorrt_supports_gpu("8.4.3", orin)


def test_version_tuple():
    assert env.version_tuple("10.3.0.26") == (10, 3, 0)
    assert env.version_tuple("8.5.2") == (8, 5, 2)
    assert env.version_tuple("11.0") == (11, 0, 0)


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="tensorrt installed")
def test_import_tensorrt_error_names_the_fix():
    with pytest.raises(BackendUnavailableError, match=r"pip install -e '\.\[gpu\]'"):
        env.import_tensorrt()


@pytest.mark.skipif(not NO_GPU, reason="a GPU is present")
def test_cuda_device_count_is_zero_without_gpu_or_driver():
    assert env.cuda_device_count() == 0


@pytest.mark.skipif(not HAS_CUDA_PYTHON, reason="cuda-python not installed (pip install cuda-python)")
def test_cuda_python_api_conformance():
    """Every runtime call and enum CudaRuntime uses exists in the installed cuda-python."""
    rt = env.import_cudart()
    for fn in ("cudaGetDeviceCount", "cudaSetDevice", "cudaGetDeviceProperties", "cudaMalloc", "cudaFree",
               "cudaMallocHost", "cudaFreeHost", "cudaStreamCreate", "cudaStreamDestroy", "cudaMemcpyAsync",
               "cudaStreamSynchronize"):
        assert callable(getattr(rt, fn)), fn
    assert hasattr(rt.cudaMemcpyKind, "cudaMemcpyHostToDevice") and hasattr(rt.cudaMemcpyKind, "cudaMemcpyDeviceToHost")
    err, n = rt.cudaGetDeviceCount()          # returns (error, value) tuples, never raises
    assert isinstance(int(err), int)
    if NO_GPU:
        assert int(err) != 0
        with pytest.raises(env.CudaError, match="cudaMalloc"):
            env.CudaRuntime(rt).malloc(1024)


def test_cuda_runtime_host_array_is_a_view_of_the_pointer():
    import ctypes

    import numpy as np
    buf = ctypes.create_string_buffer(4 * 6)
    a = env.CudaRuntime.host_array(ctypes.addressof(buf), (2, 3), np.float32)
    a[:] = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert np.frombuffer(buf.raw, dtype=np.float32).tolist() == [0, 1, 2, 3, 4, 5]
