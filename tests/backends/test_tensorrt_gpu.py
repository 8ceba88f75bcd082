"""Real TensorRT on a real GPU. Skipped here (no GPU, and the tensorrt wheel does not install
from PyPI without NVIDIA's index); run by benchmarks/gpu_check.sh on a GPU machine."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

HAS_TRT = importlib.util.find_spec("tensorrt") is not None


def _gpu_count() -> int:
    from agegender_edge.backends.tensorrt_env import cuda_device_count
    return cuda_device_count()


pytestmark = [
    pytest.mark.skipif(not HAS_TRT, reason="needs the tensorrt package (NVIDIA index / JetPack); not installable here"),
    pytest.mark.skipif(HAS_TRT and _gpu_count() == 0, reason="needs a CUDA GPU and cuda-python"),
]
REPO = Path(__file__).resolve().parents[2]
FACES = REPO / ".." / "shared" / "data" / "fixtures" / "utkface_48"
FP16_ATOL = {"gender_probs": 2e-2, "age_group_probs": 2e-2, "age_bin_probs": 1e-2, "age_years": 1.0, "age_std": 1.0}


def _model() -> Path:
    for p in (REPO / "agegender_edge" / "weights" / "edge_resnet_utkface.onnx",
              Path(os.environ.get("AGEGENDER_EDGE_TEST_MODEL", "/nonexistent")), Path("/work/dev_models/dev_plain.onnx")):
        if p.is_file():
            return p
    pytest.skip("no model")


def _faces(meta):
    from agegender_edge.imageio import DEFAULT_MAX_PIXELS, load_image
    from agegender_edge.preprocess import chip_to_input
    return np.stack([chip_to_input(load_image(str(f), None, DEFAULT_MAX_PIXELS).bgr, meta).transpose(2, 0, 1)
                     for f in sorted(FACES.glob("*.jpg"))]).astype(np.float32)


def test_tensorrt_api_conformance():
    import tensorrt as trt

    from agegender_edge.backends.tensorrt_env import has_named_tensor_api
    assert has_named_tensor_api(trt)
    for name in ("get_tensor_name", "get_tensor_profile_shape", "get_tensor_dtype", "create_execution_context"):
        assert hasattr(trt.ICudaEngine, name), name
    assert hasattr(trt.IBuilderConfig, "set_memory_pool_limit") and hasattr(trt.MemoryPoolType, "WORKSPACE")


@pytest.mark.parametrize("precision", ["fp16", "fp32"])
def test_engine_from_onnx_matches_onnxruntime(tmp_path, precision):
    from agegender_edge.backends.onnxruntime import OnnxRuntimeRunner
    from agegender_edge.backends.tensorrt import TensorRTRunner
    from agegender_edge.metadata import OUTPUT_NAMES

    model = _model()
    ref_runner = OnnxRuntimeRunner(model).activate()
    x = _faces(ref_runner.metadata)
    x = np.concatenate([x, x[:22]])  # 70 faces: split by the profile max of 32
    ref = ref_runner.infer(x)
    r = TensorRTRunner.from_onnx(model, cache_dir=tmp_path, max_batch_size=32, precision=precision).activate()
    got = r.infer(x)
    assert r.cache_decision.action == "build"
    tol = FP16_ATOL if precision == "fp16" else {k: 1e-3 for k in OUTPUT_NAMES}
    for k in OUTPUT_NAMES:
        assert got[k].shape == ref[k].shape and got[k].dtype == np.float32
        assert float(np.max(np.abs(got[k] - ref[k]))) <= tol[k], k
    r.deactivate()
    r2 = TensorRTRunner.from_onnx(model, cache_dir=tmp_path, max_batch_size=32, precision=precision).activate()
    assert r2.cache_decision.action == "load"
    r2.deactivate()


def test_predictor_tensorrt_backend(tmp_path):
    from agegender_edge import Predictor
    files = [str(f) for f in sorted(FACES.glob("*.jpg"))[:8]]
    with Predictor(_model(), backend="tensorrt", detector=None, engine_cache_dir=tmp_path) as p:
        assert p.runner.name == "tensorrt"
        res = p.predict_faces(files)
    assert len(res) == 8 and all(len(r.faces) == 1 for r in res)
