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
                                  "ray_option_with_local_engine"])
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
    }[case]
    r = _run(*args)
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert not out.exists()   # nothing was started, not even the output folder
    assert [p.name for p in old_version_out.iterdir()] == ["part-old.parquet"]


def test_label_cli_writes_dataset_and_summary(tmp_path):
    out, summary = tmp_path / "out", tmp_path / "summary.json"
    r = _run(FACES_48, "--out", out, "--detector", "none", "--summary-json", summary, "--no-progress")
    assert r.exit_code == 0, r.output
    assert "48 images labelled (48 faces, 0 without a face, 0 errors)" in r.output and "images/s" in r.output
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


def test_bad_model_fails_before_the_output_folder_is_made(tmp_path):
    r = _run(FACES_48, "--out", tmp_path / "out", "--model", "no_such_model")
    assert r.exit_code == 1 and "no_such_model" in r.output
    assert not (tmp_path / "out").exists()


def test_missing_pyarrow_names_the_extra(tmp_path):
    code = ("import sys; sys.modules['pyarrow'] = None\n"
            "from agegender_edge.cli.main import cli\n"
            f"cli(['label', {str(FACES_48)!r}, '--out', {str(tmp_path / 'out')!r}])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 1
    assert "pip install 'agegender-edge[distributed]'" in r.stderr
    assert not (tmp_path / "out").exists()
