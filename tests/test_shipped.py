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
