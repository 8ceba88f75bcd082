"""The documented exit codes of ``agegender-edge predict`` (docs/ERRORS.md)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from agegender_edge.cli.main import cli
from agegender_edge.errors import EXIT_NO_IMAGE, EXIT_OK, EXIT_USAGE


@pytest.fixture(scope="module")
def run():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, ["predict", *map(str, args)])
    return invoke


def test_partial_failure_exits_0_and_reports_the_bad_file(run, model_path, face_paths, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    res = run(face_paths[0], bad, "--model", model_path, "--device", "cpu", "--detector", "none", "--format", "json")
    assert res.exit_code == EXIT_OK
    assert f"error: {bad}: not a supported image format" in res.stderr
    out = json.loads(res.stdout)
    assert out[1]["error_type"] == "InvalidImageError" and out[0]["faces"]


def test_nothing_processed_exits_1(run, model_path, tmp_path):
    res = run(tmp_path / "a.jpg", tmp_path / "b.jpg", "--model", model_path, "--device", "cpu")
    assert res.exit_code == EXIT_NO_IMAGE
    assert f"error: {tmp_path / 'a.jpg'}: no such file" in res.stderr
    assert "0/2 images processed" in res.stderr


def test_unloadable_model_exits_1_naming_it(run, face_paths, tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"\x08\x07garbage")
    res = run(face_paths[0], "--model", model, "--device", "cpu")
    assert res.exit_code == EXIT_NO_IMAGE
    assert f"{model}: ONNX Runtime cannot load this model" in res.output


def test_usage_errors_exit_2(run, tmp_path):
    assert run().exit_code == EXIT_USAGE
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    res = run(empty)
    assert res.exit_code == EXIT_USAGE and "no input images found" in res.output
    assert run("x.jpg", "--max-pixels", "0").exit_code == EXIT_USAGE
