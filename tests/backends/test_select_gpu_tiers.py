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
def test_auto_logs_each_skipped_tier_and_lands_on_cpu(caplog):
    if "CUDAExecutionProvider" in select.available_ort_providers():
        pytest.skip("onnxruntime-gpu present")
    with caplog.at_level(logging.INFO, logger="agegender_edge"):
        r = select.create_runner(find_model(), backend="auto")
    assert isinstance(r, OnnxRuntimeRunner) and r.providers == ["CPUExecutionProvider"]
    text = caplog.text
    order = [text.index(s) for s in ("TensorRT skipped: the 'tensorrt' Python package is not installed",
                                     "TensorRT EP not available", "CUDA EP not available",
                                     "no GPU execution provider available, running ONNX Runtime on CPU")]
    assert order == sorted(order)
    warnings = [rec for rec in caplog.records if rec.levelno == logging.WARNING]
    assert any("running ONNX Runtime on CPU" in w.getMessage() for w in warnings)


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
    code = ("import sys, agegender_edge\n"
            f"from agegender_edge.backends.select import create_runner\n"
            f"r = create_runner(r'{find_model()}', device='cpu'); r.activate()\n"
            "bad = [m for m in sys.modules if m == 'tensorrt' or m.startswith('cuda') or m.startswith('torch') or m == 'onnx']\n"
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
