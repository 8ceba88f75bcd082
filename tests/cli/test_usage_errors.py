"""Bad option values and unusable output paths (issue 21): one line naming the problem, exit 2,
no traceback, and no work done first (no prediction, no file or folder written). One policy for
outputs in every command: a file's folder must exist; a folder is created as its last level only.
Run as a user runs them: a subprocess of the installed entry point's module."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from agegender_edge.cli.main import cli

from ..conftest import FACES_48, FIXTURES

PHOTO = FIXTURES / "multi_face_canvas_0.jpg"
CHIP = sorted(FACES_48.glob("*.jpg"))[0]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def cli_process(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "agegender_edge.cli.main", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def _one_line_usage_error(r, needle: str) -> None:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and needle in r.output, r.output
    errors = [line for line in r.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and needle in errors[0]


def test_the_issue_cases_as_a_user_runs_them(tmp_path):
    """predict with --detector foo / --device tpu / -o in a missing folder / a missing model:
    each is one line on stderr and exit 2, before any image is read."""
    for args, needle in [
        (["--detector", "foo"], "unknown detector 'foo'"),
        (["--device", "tpu"], "'tpu' is not a device"),
        (["-o", tmp_path / "missing_dir" / "out.csv"], "missing_dir does not exist"),
        (["--model", tmp_path / "missing.onnx"], "model not found"),
    ]:
        p = cli_process("predict", PHOTO, *args)
        assert p.returncode == 2, (args, p.stderr)
        assert "Traceback" not in p.stderr and p.stdout == ""
        lines = [line for line in p.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error:") and needle in lines[0], p.stderr
        assert "images processed" not in p.stderr           # refused before any prediction
    assert not (tmp_path / "missing_dir").exists()


@pytest.mark.parametrize("args,needle", [
    (["--detector", "mtcnn"], "unknown detector 'mtcnn'"),
    (["--detector", "yunet:/no/such/file.onnx"], "yunet file not found"),
    (["--detector", "auto:x"], "unknown detector"),
    (["--device", "cuda:x"], "is not a device"),
    (["--model", "no_such_model"], "no_such_model"),
    (["--min-score", "1.5"], "--min-score"),
    (["--min-score", "-0.1"], "--min-score"),
    (["--annotate", "/missing_dir/deeper/ann"], "does not exist"),
])
def test_predict_refuses_bad_values(args, needle):
    _one_line_usage_error(invoke("predict", PHOTO, *args), needle)


def test_output_that_is_a_folder_or_unwritable(tmp_path):
    _one_line_usage_error(invoke("predict", PHOTO, "-o", tmp_path), "is a directory")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        import os
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        _one_line_usage_error(invoke("predict", PHOTO, "-o", locked / "r.csv"), "not writable")
    finally:
        locked.chmod(0o700)


def test_annotate_creates_only_its_last_level(tmp_path, shipped_model):
    r = invoke("predict", CHIP, "--detector", "none", "--annotate", tmp_path / "ann", "--format", "json")
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "ann").iterdir())) == 1


@pytest.mark.parametrize("args,needle", [
    (["-o", "/missing_dir/f.jsonl"], "does not exist"),
    (["--tracks", "/missing_dir/t.csv"], "does not exist"),
    (["--annotate", "/missing_dir/a.mp4"], "does not exist"),
    (["--detector", "foo"], "unknown detector 'foo'"),
    (["--device", "tpu"], "'tpu' is not a device"),
    (["--model", "/missing.onnx"], "model not found"),
    (["--min-score", "2"], "--min-score"),
])
def test_video_refuses_bad_values_before_opening_the_source(tmp_path, args, needle):
    # the source does not even exist: the option is refused first, and nothing is created
    _one_line_usage_error(invoke("video", tmp_path / "clip.mp4", *args), needle)
    assert not Path("/missing_dir").exists()


def test_video_outputs_naming_one_file_are_refused(tmp_path):
    out = tmp_path / "same.csv"
    _one_line_usage_error(invoke("video", tmp_path / "clip.mp4", "-o", out, "--tracks", out), "name the same file")


@pytest.mark.parametrize("args,needle", [
    (["--model", "/missing.onnx"], "model not found"),
    (["--detector", "foo"], "unknown detector 'foo'"),
    (["--json", "/missing_dir/r.json"], "does not exist"),
    (["--confusion", "/missing_dir/c.png"], "does not exist"),
])
def test_evaluate_refuses_bad_values(args, needle):
    _one_line_usage_error(invoke("evaluate", FACES_48, *args), needle)


@pytest.mark.parametrize("args,needle", [
    (["--model", "/missing.onnx"], "model not found"),
    (["--detector", "foo"], "unknown detector 'foo'"),
    (["--out", "/missing_dir/cal"], "does not exist"),
    (["--write-model", "/missing_dir/m.onnx"], "does not exist"),
])
def test_calibrate_refuses_bad_values(args, needle):
    _one_line_usage_error(invoke("calibrate", FACES_48, *args), needle)


def test_export_refuses_an_output_in_a_missing_folder(shipped_model, tmp_path):
    onnx = shipped_model
    _one_line_usage_error(invoke("export", "--onnx", onnx, "--format", "onnx-fp16", "--out",
                                 tmp_path / "no" / "m.onnx"), "does not exist")
    _one_line_usage_error(invoke("export", "--onnx", onnx, "--format", "triton", "--out",
                                 tmp_path / "no" / "repo"), "does not exist")
    assert not (tmp_path / "no").exists()


def test_min_score_help_names_the_default():
    from agegender_edge.detection.yunet import DEFAULT_MIN_SCORE

    for command in ("predict", "video", "label"):
        r = invoke(command, "--help")
        assert r.exit_code == 0 and "--min-score" in r.output
        assert f"YuNet {DEFAULT_MIN_SCORE:g}" in " ".join(r.output.split())
