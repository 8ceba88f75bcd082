import csv
import io
import json

import cv2
from click.testing import CliRunner

from agegender_edge.cli.main import cli

from ..conftest import FACES_48, FIXTURES


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_json_for_a_folder_and_a_missing_file(shipped_model):
    r = invoke("predict", FIXTURES, FIXTURES / "missing.jpg", "--format", "json", "--detector", "haar")
    assert r.exit_code == 0
    body = r.stdout[: r.stdout.rindex("]") + 1]
    data = json.loads(body)
    by_name = {d["source"].rsplit("/", 1)[-1]: d for d in data}
    assert len(by_name["multi_face_canvas_0.jpg"]["faces"]) >= 5
    assert by_name["missing.jpg"]["error_type"] == "InvalidImageError"
    assert "missing.jpg: no such file" in r.stderr
    assert "2/3 images processed" in r.stderr


def test_csv_table_glob_and_annotate(tmp_path, shipped_model):
    out = tmp_path / "faces.csv"
    r = invoke("predict", str(FACES_48 / "1_*.jpg"), "--detector", "none", "--format", "csv", "-o", out,
               "--annotate", tmp_path / "ann")
    assert r.exit_code == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == len(list(FACES_48.glob("1_*.jpg"))) >= 2
    assert all(row["gender"] in ("female", "male") and float(row["age"]) >= 0 for row in rows)
    written = sorted((tmp_path / "ann").iterdir())
    assert len(written) == len(rows) and cv2.imread(str(written[0])).shape == (200, 200, 3)
    table = invoke("predict", FIXTURES / "multi_face_canvas_1.jpg", "--detector", "haar")
    assert table.exit_code == 0 and "multi_face_canvas_1.jpg" in table.stdout and "age" in table.stdout


def test_exit_code_is_one_only_when_nothing_was_processed(tmp_path, shipped_model):
    (tmp_path / "a.jpg").write_text("not an image")
    r = invoke("predict", tmp_path / "a.jpg", tmp_path / "b.jpg")
    assert r.exit_code == 1
    assert "0/2 images processed" in r.stderr


def test_missing_model_is_a_clear_error(tmp_path):
    r = invoke("predict", FIXTURES / "multi_face_canvas_0.jpg", "--model", tmp_path / "nope.onnx")
    assert r.exit_code == 1 and "model file not found" in r.stderr


def test_shipped_model_by_name(shipped_model):
    from agegender_edge.shipped import shipped_models

    for name in shipped_models():
        r = invoke("predict", FACES_48 / sorted(p.name for p in FACES_48.glob("*.jpg"))[0], "--model", name,
                   "--detector", "none", "--format", "json")
        assert r.exit_code == 0, r.stderr
        assert json.loads(r.stdout)[0]["faces"][0]["gender"] in ("female", "male")
    r = invoke("predict", FIXTURES / "multi_face_canvas_0.jpg", "--model", "edge_resnet_utkface_nope")
    assert r.exit_code == 1 and "neither a file nor a shipped model" in r.stderr
