"""`agegender-edge export` conversions from an ONNX (no torch needed), through click."""
import importlib.util
import json

import pytest
from click.testing import CliRunner

pytest.importorskip("onnx")

from agegender_edge.cli.main import cli  # noqa: E402

from pathlib import Path  # noqa: E402

FACES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "fixtures" / "utkface_48"


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)


def test_print_trtexec_from_recipe_and_flags(model_path):
    r = run("export", "--onnx", model_path, "--recipe", "jetson-orin-jp6-fp16", "--max-batch", "48",
            "--opt-batch", "8", "--print-trtexec")
    assert r.exit_code == 0, r.output
    assert "--optShapes=input:8x3x96x96" in r.output and "--maxShapes=input:48x3x96x96" in r.output
    assert "--fp16" in r.output and "--layerPrecisions=" in r.output and ":fp32" in r.output
    r = run("export", "--onnx", model_path, "--recipe", "trt11-fp16-strongly-typed", "--print-trtexec")
    assert r.exit_code == 0 and "--stronglyTyped" in r.output and ".fp16.onnx" in r.output
    r = run("export", "--onnx", model_path, "--dla-core", "0", "--print-trtexec")
    assert r.exit_code != 0 and "static batch" in r.output


def test_onnx_fp16_export_checks_on_real_faces(model_path, tmp_path):
    out = tmp_path / "m.fp16.onnx"
    r = run("export", "--onnx", model_path, "--format", "onnx-fp16", "--out", out, "--parity-faces", FACES)
    assert r.exit_code == 0, r.output
    assert out.is_file() and "fp16 check OK on 48 real faces" in r.output


def test_onnx_int8_export_needs_calibration_then_writes_qdq(model_path, tmp_path):
    out = tmp_path / "m.int8.onnx"
    r = run("export", "--onnx", model_path, "--format", "onnx-int8", "--out", out)
    assert r.exit_code != 0 and "--calibration" in r.output
    r = run("export", "--onnx", model_path, "--format", "onnx-int8", "--out", out, "--calibration", FACES,
            "--calibration-count", "16", "--parity-faces", FACES)
    assert r.exit_code == 0, r.output
    assert "gender agreement" in r.output and out.is_file()
    import onnx
    m = onnx.load(str(out))
    assert any(n.op_type == "QuantizeLinear" for n in m.graph.node)
    meta = json.loads({p.key: p.value for p in m.metadata_props}["agegender_edge"])
    assert meta["precision"] == "int8" and meta["training"]["quantization"]["calibration_faces"] == 16


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="tensorrt installed")
def test_engine_export_without_tensorrt_says_what_to_install(model_path, tmp_path):
    r = run("export", "--onnx", model_path, "--format", "engine", "--out", tmp_path / "m.engine")
    assert r.exit_code != 0 and "pip install -e '.[gpu]'" in r.output      # from a checkout (install_hint.py)


def test_usage_errors(model_path, tmp_path):
    r = run("export", "--out", tmp_path / "x.onnx")
    assert r.exit_code != 0 and "exactly one of --checkpoint or --onnx" in r.output
    r = run("export", "--onnx", model_path, "--out", tmp_path / "x.onnx")
    assert r.exit_code != 0 and "already an ONNX" in r.output
    r = run("export", "--onnx", model_path, "--recipe", "nope", "--print-trtexec")
    assert r.exit_code != 0 and "not found" in r.output


def test_export_defaults_match_how_the_shipped_default_was_exported():
    """`export --checkpoint` without options gives what the shipped default model has: no flip
    averaging in the graph (the default is INT8-friendly and fast) and the median age (both
    recorded in its metadata)."""
    import onnx

    from agegender_edge.cli.export import export
    from agegender_edge.engine.onnx_meta import read_metadata
    from agegender_edge.shipped import default_model_path
    meta = read_metadata(onnx.load(str(default_model_path())), "shipped")
    defaults = {p.name: p.default for p in export.params}
    assert defaults["flip_tta"] is meta.flip_tta is False
    assert defaults["age_estimate"] == meta.age_estimate == "median"
