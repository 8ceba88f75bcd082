"""Backend selection on this machine (no tensorrt package, CPU-only onnxruntime, no GPU):
every skipped tier is logged with its reason and explicit GPU requests fail clearly.
The ORT GPU tiers are exercised by faking only the provider list (the ORT session itself is not
created for GPU providers here)."""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import pytest

from agegender_edge.backends import select
from agegender_edge.backends.onnxruntime import OnnxRuntimeRunner
from agegender_edge.errors import BackendUnavailableError, ModelError

REPO = Path(__file__).resolve().parents[2]
needs_no_trt = pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None,
                                  reason="tensorrt is installed: these check the behaviour without it")


def find_model() -> Path:
    import os
    for p in (REPO / "agegender_edge" / "weights" / "edge_resnet_utkface.onnx",
              Path(os.environ.get("AGEGENDER_EDGE_TEST_MODEL", "/nonexistent")),
              Path("/work/dev_models/dev_plain.onnx")):
        if p.is_file():
            return p
    pytest.skip("no exported model available")


@needs_no_trt
@pytest.mark.parametrize("gpu_present", [False, True])
def test_auto_logs_each_skipped_tier_and_lands_on_cpu(caplog, monkeypatch, gpu_present):
    """A machine without a GPU (a laptop) runs on CPU as planned: INFO, no WARNING. A machine
    with an NVIDIA GPU that ONNX Runtime cannot use gets a WARNING naming the fix."""
    if "CUDAExecutionProvider" in select.available_ort_providers():
        pytest.skip("onnxruntime-gpu present")
    from agegender_edge.backends import tensorrt_env
    monkeypatch.setattr(tensorrt_env, "nvidia_gpu_present", lambda: gpu_present)
    with caplog.at_level(logging.INFO, logger="agegender_edge"):
        r = select.create_runner(find_model(), backend="auto")
    assert isinstance(r, OnnxRuntimeRunner) and r.providers == ["CPUExecutionProvider"]
    text = caplog.text
    last = ("has an NVIDIA GPU but ONNX Runtime offers no GPU execution provider" if gpu_present
            else "no GPU on this machine: ONNX Runtime on CPU")
    order = [text.index(s) for s in ("TensorRT skipped: the 'tensorrt' Python package is not installed",
                                     "TensorRT EP not available", "CUDA EP not available", last)]
    assert order == sorted(order)
    warnings = [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.WARNING]
    if gpu_present:
        assert len(warnings) == 1 and "running on CPU" in warnings[0] and "docs/GPU.md" in warnings[0]
    else:
        assert warnings == []


def test_no_gpu_on_this_machine_is_detected_from_the_driver_files(monkeypatch, tmp_path):
    from agegender_edge.backends import tensorrt_env
    monkeypatch.setattr(tensorrt_env, "is_jetson", lambda: False)
    monkeypatch.setattr(tensorrt_env, "_listdir", lambda path: ["null", "nvme0", "tty"])
    real_scandir = tensorrt_env.os.scandir
    monkeypatch.setattr(tensorrt_env.os, "scandir", lambda p: real_scandir(tmp_path) if "nvidia" in str(p) else real_scandir(p))
    assert tensorrt_env.nvidia_gpu_present() is False
    monkeypatch.setattr(tensorrt_env, "_listdir", lambda path: ["null", "nvidia0", "nvidiactl"])
    assert tensorrt_env.nvidia_gpu_present() is True
    (tmp_path / "0000:3b:00.0").mkdir()
    monkeypatch.setattr(tensorrt_env, "_listdir", lambda path: [])
    assert tensorrt_env.nvidia_gpu_present() is True


def test_a_missing_model_is_the_first_and_only_thing_reported(caplog, monkeypatch, tmp_path):
    from agegender_edge.backends import tensorrt_env
    monkeypatch.setattr(tensorrt_env, "nvidia_gpu_present", lambda: True)    # would warn if selection ran
    with caplog.at_level(logging.INFO, logger="agegender_edge"):
        with pytest.raises(ModelError, match="nope.onnx: model file not found"):
            select.create_runner(tmp_path / "nope.onnx", backend="auto")
    assert caplog.records == []


@needs_no_trt
def test_explicit_requests_raise_instead_of_falling_back(tmp_path):
    model = find_model()
    with pytest.raises(BackendUnavailableError, match="tensorrt' Python package is not installed"):
        select.create_runner(model, backend="tensorrt")
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"not an engine")
    with pytest.raises(BackendUnavailableError, match="TensorRT backend requested"):
        select.create_runner(engine)
    with pytest.raises(ModelError, match="cannot run on ONNX Runtime"):
        select.create_runner(engine, backend="onnxruntime")
    with pytest.raises(BackendUnavailableError, match="CUDA device"):
        select.create_runner(model, backend="tensorrt", device="cpu")
    if "CUDAExecutionProvider" not in select.available_ort_providers():
        with pytest.raises(BackendUnavailableError, match="asked for a GPU"):
            select.create_runner(model, backend="onnxruntime", device="cuda")


def test_cpu_device_skips_gpu_tiers_silently_but_logged(caplog):
    with caplog.at_level(logging.INFO, logger="agegender_edge"):
        r = select.create_runner(find_model(), backend="auto", device="cpu")
    assert r.providers == ["CPUExecutionProvider"]
    assert "device='cpu'" in caplog.text and "TensorRT skipped" not in caplog.text


def test_ort_gpu_tier_order_and_tensorrt_ep_options(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(select, "available_ort_providers",
                        lambda: ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    with caplog.at_level(logging.INFO, logger="agegender_edge"):
        chain = select.ort_providers_for("cuda:1", engine_cache_dir=tmp_path, max_batch_size=48)
    names = [c[0] if isinstance(c, tuple) else c for c in chain]
    assert names == ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    trt_opts, cuda_opts = chain[0][1], chain[1][1]
    assert trt_opts["device_id"] == 1 and cuda_opts["device_id"] == 1
    assert trt_opts["trt_fp16_enable"] and trt_opts["trt_engine_cache_enable"]
    assert trt_opts["trt_engine_cache_path"] == str(tmp_path) and trt_opts["trt_timing_cache_enable"]
    assert trt_opts["trt_profile_min_shapes"] == "input:1x3x96x96"
    assert trt_opts["trt_profile_max_shapes"] == "input:48x3x96x96"
    assert "TensorRT EP available" in caplog.text and "CUDA EP available" in caplog.text


def test_only_cuda_ep_is_the_middle_tier(monkeypatch):
    monkeypatch.setattr(select, "available_ort_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    chain = select.ort_providers_for(None)
    assert [c[0] if isinstance(c, tuple) else c for c in chain] == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_import_agegender_edge_and_cpu_predictor_never_import_tensorrt_or_cuda():
    import subprocess
    import sys
    # modules a bare interpreter already has (cuda-python's .pth file imports a `cuda` redirector
    # at start-up) are not the SDK's doing: only what the import and the CPU runner add counts
    code = ("import sys\nbefore = set(sys.modules)\nimport agegender_edge\n"
            f"from agegender_edge.backends.select import create_runner\n"
            f"r = create_runner(r'{find_model()}', device='cpu'); r.activate()\n"
            "bad = [m for m in set(sys.modules) - before if m == 'tensorrt' or m.startswith('cuda') or m.startswith('torch') or m == 'onnx']\n"
            "print(bad); assert not bad, bad\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(REPO), timeout=120)
    assert out.returncode == 0, out.stderr + out.stdout


def test_tensorrt_ep_profile_uses_the_models_own_input_spec(monkeypatch, tmp_path):
    from agegender_edge.metadata import ModelMetadata
    seen = {}
    monkeypatch.setattr(select, "available_ort_providers", lambda: ["TensorrtExecutionProvider", "CPUExecutionProvider"])
    real = select.ort_providers_for

    def spy(device, cache, max_batch, meta):
        seen["meta"] = meta
        return real(device, cache, max_batch, meta)
    monkeypatch.setattr(select, "ort_providers_for", spy)
    select.create_runner(find_model(), backend="onnxruntime", engine_cache_dir=tmp_path, max_batch_size=16)
    meta = seen["meta"]
    assert isinstance(meta, ModelMetadata) and meta.input.name == "input"
    opts = real(None, tmp_path, 16, meta)[0][1]
    h, w = meta.input.size
    assert opts["trt_profile_opt_shapes"] == f"input:16x3x{h}x{w}"
