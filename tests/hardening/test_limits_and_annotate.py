"""Resource limits (max_pixels defaults, max_faces) and --annotate output paths that cannot escape
their folder."""
from __future__ import annotations

import inspect
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from agegender_edge.annotate import MAX_STEM_CHARS, draw_faces, safe_output_path, write_annotated
from agegender_edge.errors import OutputPathError
from agegender_edge.imageio import DEFAULT_MAX_PIXELS


def test_documented_defaults():
    from agegender_edge.predictor import Predictor

    params = inspect.signature(Predictor).parameters
    assert DEFAULT_MAX_PIXELS == 50_000_000
    assert params["max_pixels"].default == DEFAULT_MAX_PIXELS
    assert params["max_faces"].default == 64
    repo = Path(__file__).resolve().parents[2]
    docs = "".join(p.read_text() for p in (repo / "docs" / "ERRORS.md", repo / "README.md") if p.is_file())
    for fact in ("50,000,000", "max_faces", "64", "max_batch_bytes", "1 GiB", "Exit codes"):
        assert fact in docs, fact


def test_max_faces_keeps_the_best_scoring_faces(model_path, haar_predictor, canvas_paths):
    from agegender_edge.backends.onnxruntime import OrtOptions
    from agegender_edge.predictor import Predictor

    all_faces = haar_predictor.predict(str(canvas_paths[0])).faces
    assert len(all_faces) >= 4
    with Predictor(model_path, device="cpu", detector="haar", max_faces=2,
                   ort_options=OrtOptions(intra_op_threads=1)) as p:
        two = p.predict(str(canvas_paths[0])).faces
    best = sorted(all_faces, key=lambda f: -f.detection_score)[:2]
    assert [f.box for f in two] == [f.box for f in best]


@pytest.mark.parametrize("source,expected", [
    ("../../etc/passwd", "passwd.jpg"),
    ("/etc/cron.d/evil.png", "evil.png"),
    ("..\\..\\windows\\system32\\x.JPG", "x.jpg"),
    ("..", "image.jpg"),
    ("/", "image.jpg"),
    ("", "image.jpg"),
    (".hidden", "hidden.jpg"),
    ("<array 3>", "_array_3_.jpg"),
    ("a b;rm -rf ~.jpeg", "a_b_rm_-rf__.jpg"),
    ("photo.tiff", "photo.jpg"),
    ("nul\x00byte.png", "nul_byte.png"),
])
def test_output_names_stay_inside(tmp_path, source, expected):
    out = tmp_path / "out"
    out.mkdir()
    path = safe_output_path(out, source, set())
    assert path == (out / expected).resolve()
    assert path.parent == out.resolve()


def test_output_names_are_unique_and_bounded(tmp_path):
    taken: set[str] = set()
    names = [safe_output_path(tmp_path, s, taken).name for s in ("a/x.jpg", "b/x.jpg", "x.jpg", "x_2.jpg")]
    assert names == ["x.jpg", "x_2.jpg", "x_3.jpg", "x_2_2.jpg"]
    long = safe_output_path(tmp_path, "é" * 400 + ".jpg", set())
    assert len(long.stem) == MAX_STEM_CHARS and len(long.name.encode()) < 255


def test_planted_symlink_is_refused(tmp_path):
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (out / "face.jpg").symlink_to(outside / "stolen.jpg")
    with pytest.raises(OutputPathError, match="refusing to write outside"):
        safe_output_path(out, "/data/face.jpg", set())
    assert not (outside / "stolen.jpg").exists()


def test_write_annotated_does_not_follow_symlinks(tmp_path, haar_predictor, canvas_paths):
    out = tmp_path / "out"
    out.mkdir()
    bgr = cv2.imread(str(canvas_paths[0]))
    result = haar_predictor.predict(str(canvas_paths[0]))
    path = write_annotated(out, "../../" + canvas_paths[0].name, bgr, result, set())
    assert path.parent == out.resolve() and cv2.imread(str(path)).shape == bgr.shape
    assert not np.array_equal(cv2.imread(str(path)), bgr)          # boxes were drawn
    assert os.listdir(tmp_path) == ["out"]


def test_draw_faces_copes_with_odd_labels(haar_predictor, canvas_paths):
    import dataclasses

    r = haar_predictor.predict(str(canvas_paths[0]))
    odd = dataclasses.replace(r, faces=[dataclasses.replace(r.faces[0], gender="")])
    out = draw_faces(np.zeros((640, 960, 3), np.uint8), odd)
    assert out.any()


def test_cli_annotate_writes_only_inside_the_folder(tmp_path, model_path, canvas_paths, face_paths):
    from click.testing import CliRunner

    from agegender_edge.cli.main import cli

    src = tmp_path / "in" / "sub"
    src.mkdir(parents=True)
    (src / "canvas.jpg").write_bytes(canvas_paths[0].read_bytes())
    out = tmp_path / "ann"
    weird = str(src / ".." / "sub" / "canvas.jpg")
    res = CliRunner().invoke(cli, ["predict", weird, str(tmp_path / "missing.jpg"), "--model", str(model_path),
                                   "--device", "cpu", "--detector", "haar", "--annotate", str(out), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert sorted(os.listdir(out)) == ["canvas.jpg"]
    assert sorted(os.listdir(tmp_path)) == ["ann", "in"]


def test_cli_annotate_refusal_does_not_lose_the_results(tmp_path, model_path, canvas_paths, face_paths):
    """A planted symlink in the annotate folder is refused for that image only: the results are
    still written and the exit code stays 0 (it used to end in a traceback before any output)."""
    import json

    from click.testing import CliRunner

    from agegender_edge.cli.main import cli

    out, outside = tmp_path / "ann", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (out / canvas_paths[0].name).symlink_to(outside / "stolen.jpg")
    res = CliRunner().invoke(cli, ["predict", str(canvas_paths[0]), str(face_paths[0]), "--model", str(model_path),
                                   "--device", "cpu", "--detector", "haar", "--annotate", str(out), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert "refusing to write outside" in res.stderr
    assert len(json.loads(res.stdout)) == 2
    assert not (outside / "stolen.jpg").exists()
    assert (out / face_paths[0].name).is_file()
