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


def test_missing_model_is_a_usage_error_and_a_broken_one_a_load_error(tmp_path):
    r = invoke("predict", FIXTURES / "multi_face_canvas_0.jpg", "--model", tmp_path / "nope.onnx")
    assert r.exit_code == 2 and "model not found" in r.stderr and "nope.onnx" in r.stderr
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not onnx at all")
    r = invoke("predict", FIXTURES / "multi_face_canvas_0.jpg", "--model", broken)
    assert r.exit_code == 1 and "broken.onnx" in r.stderr and "Traceback" not in r.output


def test_shipped_model_by_name(shipped_model):
    from agegender_edge.shipped import shipped_models

    for name in shipped_models():
        r = invoke("predict", FACES_48 / sorted(p.name for p in FACES_48.glob("*.jpg"))[0], "--model", name,
                   "--detector", "none", "--format", "json")
        assert r.exit_code == 0, r.stderr
        assert json.loads(r.stdout)[0]["faces"][0]["gender"] in ("female", "male")
    r = invoke("predict", FIXTURES / "multi_face_canvas_0.jpg", "--model", "edge_resnet_utkface_nope")
    assert r.exit_code == 2 and "neither a file nor a shipped model" in r.stderr


def test_inputs_naming_no_image_are_usage_errors_naming_the_path(tmp_path):
    """An empty folder and a pattern that matches nothing are the same problem: named, exit 2."""
    empty = tmp_path / "empty"
    empty.mkdir()
    r = invoke("predict", empty)
    assert r.exit_code == 2 and f"{empty}: folder has no image files" in r.output
    pattern = str(tmp_path / "*.jpg")
    r = invoke("predict", pattern)
    assert r.exit_code == 2 and f"{pattern}: pattern matches no files" in r.output
    r = invoke("predict", empty, pattern)
    assert r.exit_code == 2 and "folder has no image files" in r.output and "pattern matches no files" in r.output


def test_unmatched_pattern_beside_images_is_reported_and_the_rest_processed(tmp_path, shipped_model):
    face = sorted(FACES_48.glob("*.jpg"))[0]
    pattern = str(tmp_path / "*.png")
    r = invoke("predict", face, pattern, "--detector", "none", "--format", "json")
    assert r.exit_code == 0
    assert f"error: {pattern}: pattern matches no files" in r.stderr
    assert [d["source"] for d in json.loads(r.stdout)] == [str(face)]


def test_per_file_errors_are_shown_once(tmp_path, shipped_model, monkeypatch):
    from agegender_edge.cli import predict as predict_cli
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    face = sorted(FACES_48.glob("*.jpg"))[0]
    monkeypatch.setattr(predict_cli, "stdout_is_terminal", lambda: True)
    r = invoke("predict", face, bad, "--detector", "none")
    assert r.exit_code == 0
    assert "ERROR InvalidImageError" in r.stdout and "error:" not in r.stderr   # the table row is enough
    out = tmp_path / "out.txt"
    r = invoke("predict", face, bad, "--detector", "none", "-o", out)
    assert f"error: {bad}: not a supported image format" in r.stderr             # the output is in a file
    monkeypatch.setattr(predict_cli, "stdout_is_terminal", lambda: False)
    r = invoke("predict", face, bad, "--detector", "none")
    assert f"error: {bad}" in r.stderr                                          # redirected stdout


def test_table_numbers_faces_from_one_and_never_prints_minus_zero():
    from agegender_edge.cli.predict import render_csv, render_table
    from agegender_edge.results import BoundingBox, FaceResult, ImageResult
    face = FaceResult(box=BoundingBox(6.2, -0.4, 192.3, 190.0), crop_box=BoundingBox(0, 0, 200, 200),
                      detection_score=0.9, age_group="25-32", age_group_probs={"25-32": 1.0}, age=30.0, age_std=3.0,
                      age_interval_80=(26.0, 34.0), gender="female", gender_probability=0.9)
    table = render_table([ImageResult(source="a.jpg", faces=[face, face], width=200, height=200)])
    rows = table.splitlines()[1:]
    assert [row.split()[1] for row in rows] == ["1", "2"]
    assert "6,0,192,190" in rows[0] and "-0" not in table
    rows = list(csv.DictReader(io.StringIO(render_csv([ImageResult(source="a.jpg", faces=[face], width=1, height=1)]))))
    assert [(r["face"], r["num_faces"]) for r in rows] == [("1", "1")]


def test_csv_no_face_is_a_result_not_an_error_and_stdout_has_no_blank_line(tmp_path, shipped_model):
    """As `label` writes it: one row with num_faces 0 and `error` empty for an image without a
    face; `error` only for an image that failed. stdout ends with exactly one newline."""
    import skimage.data
    blank = tmp_path / "coffee.png"
    cv2.imwrite(str(blank), skimage.data.coffee()[:, :, ::-1])
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    face = FIXTURES / "multi_face_canvas_0.jpg"
    r = invoke("predict", blank, bad, face, "--format", "csv")
    assert r.exit_code == 0, r.output
    assert r.stdout.endswith("\n") and not r.stdout.endswith("\n\n")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    by_image = {}
    for row in rows:
        by_image.setdefault(row["image"].rsplit("/", 1)[-1], []).append(row)
    [no_face] = by_image["coffee.png"]
    assert (no_face["num_faces"], no_face["face"], no_face["error"]) == ("0", "", "")
    [failed] = by_image["bad.jpg"]
    assert failed["num_faces"] == "0" and "not a supported image format" in failed["error"]
    faces = by_image["multi_face_canvas_0.jpg"]
    assert [row["face"] for row in faces] == [str(i) for i in range(1, len(faces) + 1)]
    assert all(row["num_faces"] == str(len(faces)) and row["error"] == "" for row in faces)


def test_json_floats_are_rounded_and_the_summary_counts_properly(shipped_model):
    r = invoke("predict", FIXTURES / "multi_face_canvas_0.jpg", "--detector", "haar", "--format", "json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)

    def floats(o):
        if isinstance(o, float):
            yield o
        elif isinstance(o, dict):
            for v in o.values():
                yield from floats(v)
        elif isinstance(o, list):
            for v in o:
                yield from floats(v)
    values = list(floats(data))
    assert values and all(float(f"{v:.6g}") == v for v in values)     # 6 significant digits at most
    assert any(v != round(v) for v in values)                          # ... and not rounded to integers
    face = sorted(FACES_48.glob("*.jpg"))[0]
    one = invoke("predict", face, "--detector", "none")
    assert "1/1 images processed, 1 face\n" in one.stderr


def test_min_score_reaches_the_detector(tmp_path, shipped_model):
    """--min-score is the detection threshold of the run: above the face's score it is gone."""
    face = FIXTURES / "multi_face_canvas_0.jpg"
    found = json.loads(invoke("predict", face, "--format", "json").stdout)[0]["faces"]
    assert found and all(f["detection_score"] >= 0.78 for f in found)
    top = max(f["detection_score"] for f in found)
    r = invoke("predict", face, "--format", "json", "--min-score", min(1.0, top + 0.001))
    assert r.exit_code == 0 and json.loads(r.stdout)[0]["faces"] == []
