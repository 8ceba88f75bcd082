"""Shipped models by name: resolution, precedence of real files, clear errors."""
import pytest

from agegender_edge.errors import ModelError
from agegender_edge.shipped import DEFAULT_MODEL, WEIGHTS_DIR, default_model_path, resolve_model, shipped_models


def test_default_is_first_and_exists():
    names = shipped_models()
    assert names[0] == DEFAULT_MODEL
    assert default_model_path() == WEIGHTS_DIR / f"{DEFAULT_MODEL}.onnx" and default_model_path().is_file()
    for name in names:
        assert resolve_model(name) == WEIGHTS_DIR / f"{name}.onnx"


def test_unknown_name_lists_what_is_shipped():
    with pytest.raises(ModelError, match=f"neither a file nor a shipped model.*{DEFAULT_MODEL}"):
        resolve_model("no_such_model")


def test_paths_pass_through_and_local_files_win(tmp_path, monkeypatch):
    assert resolve_model(tmp_path / "x.onnx") == tmp_path / "x.onnx"     # missing path: the runner says so
    monkeypatch.chdir(tmp_path)
    (tmp_path / DEFAULT_MODEL).write_bytes(b"local")
    assert resolve_model(DEFAULT_MODEL).resolve() == (tmp_path / DEFAULT_MODEL).resolve()


def test_env_variable_takes_a_name_or_a_path(monkeypatch, tmp_path):
    monkeypatch.setenv("AGEGENDER_EDGE_MODEL", DEFAULT_MODEL)
    assert default_model_path() == WEIGHTS_DIR / f"{DEFAULT_MODEL}.onnx"
    monkeypatch.setenv("AGEGENDER_EDGE_MODEL", str(tmp_path / "m.onnx"))
    assert default_model_path() == tmp_path / "m.onnx"


# -- "the default is fast by default": INT8 on ONNX Runtime CPU, FP32 on GPUs ---------------------
import logging  # noqa: E402
import shutil  # noqa: E402

from agegender_edge import Predictor  # noqa: E402
from agegender_edge.shipped import MODEL_ENV, default_for_backend, uses_builtin_default  # noqa: E402

FP32 = WEIGHTS_DIR / f"{DEFAULT_MODEL}.onnx"
INT8 = WEIGHTS_DIR / f"{DEFAULT_MODEL}_int8.onnx"


def test_default_predictor_on_cpu_runs_the_int8_file_and_logs_it(monkeypatch, caplog):
    monkeypatch.delenv(MODEL_ENV, raising=False)
    with caplog.at_level(logging.INFO, logger="agegender_edge"):
        with Predictor(detector=None) as p:
            assert p.model_path == INT8 and p.runner.model_path == INT8
            assert p.metadata.precision == "int8"
    assert any("INT8 file" in r.getMessage() and r.levelno == logging.INFO for r in caplog.records)


def test_a_named_or_environment_model_runs_as_given(monkeypatch):
    monkeypatch.delenv(MODEL_ENV, raising=False)
    with Predictor(DEFAULT_MODEL, device="cpu", detector=None) as p:
        assert p.model_path == FP32 and p.metadata.precision == "fp32"
    monkeypatch.setenv(MODEL_ENV, DEFAULT_MODEL)
    assert not uses_builtin_default(None)
    with Predictor(device="cpu", detector=None) as p:
        assert p.model_path == FP32


def test_gpu_backends_take_the_fp32_file_and_a_missing_int8_file_falls_back(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="agegender_edge"):
        assert default_for_backend(FP32, on_gpu=True) == FP32
        lone = tmp_path / FP32.name
        shutil.copy(FP32, lone)
        assert default_for_backend(lone, on_gpu=False) == lone
    messages = [r.getMessage() for r in caplog.records]
    assert any("FP32 file for the GPU backend" in m for m in messages)
    assert any(f"no {FP32.stem}_int8.onnx" in m for m in messages)


def test_a_gpu_provider_chain_takes_the_fp32_file(monkeypatch):
    """Only the provider list is faked (CPU-only onnxruntime here): with a CUDA EP in the chain the
    built-in default stays FP32; the real session then falls back to CPU, as logged."""
    from agegender_edge.backends import select

    monkeypatch.setattr(select, "available_ort_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert select.create_runner(FP32, default_model=True).model_path == FP32
    assert select.create_runner(FP32, device="cpu", default_model=True).model_path == INT8
    assert select.create_runner(FP32, device="cpu").model_path == FP32      # not the built-in default
