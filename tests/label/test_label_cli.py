"""``agegender-edge label``: exit codes, refusals before any work, the summary."""
from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from agegender_edge.cli.main import cli
from agegender_edge.label import SCHEMA_VERSION_KEY
from agegender_edge.label.schema import arrow_schema
from tests.conftest import FACES_48
from tests.label.conftest import read_rows


def _run(*args):
    return CliRunner().invoke(cli, ["label", *map(str, args)])


@pytest.fixture()
def old_version_out(tmp_path):
    out = tmp_path / "old"
    out.mkdir()
    schema = arrow_schema().with_metadata({SCHEMA_VERSION_KEY: "0"})
    pq.write_table(pa.Table.from_pylist([], schema=schema), out / "part-old.parquet")
    return out


@pytest.mark.parametrize("case", ["missing_source", "empty_folder", "csv_without_path", "other_schema_version",
                                  "ray_option_with_local_engine", "out_in_a_missing_folder", "unknown_model",
                                  "bad_device", "bad_detector", "min_score_over_one", "summary_in_a_missing_folder"])
def test_usage_errors_exit_2_before_any_work(tmp_path, old_version_out, case):
    empty = tmp_path / "empty"
    empty.mkdir()
    csv_path = tmp_path / "m.csv"
    csv_path.write_text("file\nx.jpg\n")
    out = tmp_path / "out"
    args, message = {
        "missing_source": ([tmp_path / "nope", "--out", out], "no such file or folder"),
        "empty_folder": ([empty, "--out", out], "holds no image files"),
        "csv_without_path": ([csv_path, "--out", out], "no column 'path'"),
        "other_schema_version": ([FACES_48, "--out", old_version_out], "holds label schema version 0"),
        "ray_option_with_local_engine": ([FACES_48, "--out", out, "--actors", "2"], "need --engine ray"),
        "out_in_a_missing_folder": ([FACES_48, "--out", out / "a" / "b"], "does not exist"),
        "unknown_model": ([FACES_48, "--out", out, "--model", "no_such_model"], "no_such_model"),
        "bad_device": ([FACES_48, "--out", out, "--device", "tpu"], "'tpu' is not a device"),
        "bad_detector": ([FACES_48, "--out", out, "--detector", "foo"], "unknown detector 'foo'"),
        "min_score_over_one": ([FACES_48, "--out", out, "--min-score", "1.5"], "--min-score"),
        "summary_in_a_missing_folder": ([FACES_48, "--out", out, "--summary-json", tmp_path / "no" / "s.json"],
                                        "does not exist"),
    }[case]
    r = _run(*args)
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert not out.exists()   # nothing was started, not even the output folder
    assert [p.name for p in old_version_out.iterdir()] == ["part-old.parquet"]


def test_label_cli_writes_dataset_and_summary(tmp_path):
    out, summary = tmp_path / "out", tmp_path / "summary.json"
    r = _run(FACES_48, "--out", out, "--detector", "none", "--summary-json", summary, "--no-progress")
    assert r.exit_code == 0, r.output
    assert "48 images labelled (48 faces, 0 without a face, 0 errors)" in r.output and "images/s" in r.output
    assert "error:" not in r.output
    s = json.loads(summary.read_text())
    assert (s["images"], s["faces"], s["errors"], s["engine"]) == (48, 48, 0, "local")
    assert s["images_per_second"] > 0
    assert len(read_rows(out)) == 48
    again = _run(FACES_48, "--out", out, "--detector", "none")
    assert again.exit_code == 0 and "nothing to label: all 48 images" in again.output


def test_only_broken_images_exit_1_with_error_rows(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.jpg").write_text("text")
    (bad / "b.png").write_bytes(b"")
    r = _run(bad, "--out", tmp_path / "out", "--detector", "none")
    assert r.exit_code == 1, r.output
    rows = read_rows(tmp_path / "out")
    assert sorted(row["error_type"] for row in rows) == ["InvalidImageError"] * 2
    # each failed file is named with its reason, before the summary line
    lines = r.output.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 2 and lines.index(errors[-1]) < next(i for i, x in enumerate(lines) if "labelled" in x)
    assert any(str(bad / "a.jpg") in e for e in errors) and any(str(bad / "b.png") in e for e in errors)
    assert "2 errors" in r.output


def test_one_failed_file_among_good_ones_is_named_and_counted_in_the_singular(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    good = sorted(FACES_48.glob("*.jpg"))[0]
    (src / good.name).write_bytes(good.read_bytes())
    (src / "broken.jpg").write_bytes(good.read_bytes()[:300])
    r = _run(src, "--out", tmp_path / "out", "--detector", "none", "--no-progress")
    assert r.exit_code == 0, r.output
    assert "1 error)" in r.output and "1 errors" not in r.output
    [line] = [x for x in r.output.splitlines() if x.startswith("error: ")]
    assert str(src / "broken.jpg") in line
    rows = read_rows(tmp_path / "out")
    assert {row["face_index"] for row in rows} == {None, 1}    # faces numbered from 1, as predict


def test_model_file_that_cannot_be_loaded_exits_1_with_one_line(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    r = _run(FACES_48, "--out", tmp_path / "out", "--model", bad)
    assert r.exit_code == 1 and "bad.onnx" in r.output and "Traceback" not in r.output
    assert not list((tmp_path / "out").glob("*.parquet"))


def test_missing_pyarrow_names_the_extra(tmp_path):
    code = ("import sys; sys.modules['pyarrow'] = None\n"
            "from agegender_edge.cli.main import cli\n"
            f"cli(['label', {str(FACES_48)!r}, '--out', {str(tmp_path / 'out')!r}])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 1
    assert "pyarrow" in r.stderr and "pip install -e '.[parquet]'" in r.stderr   # the local engine needs [parquet] only
    assert not (tmp_path / "out").exists()


def test_min_score_is_applied_by_the_labelling_predictors(tmp_path):
    faces = sorted(FACES_48.glob("*.jpg"))[:4]
    src = tmp_path / "src"
    src.mkdir()
    for f in faces:
        (src / f.name).write_bytes(f.read_bytes())
    r = _run(src, "--out", tmp_path / "all", "--no-progress")
    assert r.exit_code == 0, r.output
    assert sum(row["face_index"] is not None for row in read_rows(tmp_path / "all")) >= 3
    r = _run(src, "--out", tmp_path / "none", "--min-score", "1", "--no-progress")
    assert r.exit_code == 0, r.output
    assert "0 faces, 4 without a face" in r.output
    assert all(row["face_index"] is None and row["error"] is None for row in read_rows(tmp_path / "none"))
