"""``agegender-edge bench`` through click's CliRunner on a tiny model and real faces.
Only behaviour and the report's shape are checked, never a timing."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from agegender_edge.bench.report import SCHEMA
from agegender_edge.cli.bench import bench
from agegender_edge.cli.main import cli

from .conftest import FIXTURES

FAST = ["--warmup", "1", "--iterations", "3", "-q"]


def run(args):
    return CliRunner().invoke(cli, ["bench", *args], catch_exceptions=False)


def test_help_documents_every_option():
    res = run(["--help"])
    assert res.exit_code == 0
    for param in bench.params:
        for opt in param.opts + param.secondary_opts:
            assert opt in res.output, f"{opt} missing from --help"
        assert param.help, f"{param.name} has no help text"


def test_model_run_writes_json_table_and_plot(tiny_model, faces_dir, tmp_path):
    out, plot, table = tmp_path / "r.json", tmp_path / "r.png", tmp_path / "r.txt"
    res = run(["--model", str(tiny_model), "--faces", str(faces_dir), "--face-limit", "8", "--batch-sizes", "4,1",
               *FAST, "--json", str(out), "--plot", str(plot), "--table", str(table)])
    assert res.exit_code == 0, res.output
    d = json.loads(out.read_text())
    assert d["schema"] == SCHEMA and d["skipped"] == [] and d["pipeline"] is None
    assert [r["batch_size"] for r in d["model"]] == [1, 4]
    for r in d["model"]:
        assert r["n"] == 3 and r["backend"] == "onnxruntime" and r["precision"] == "fp32"
        assert r["faces_kind"] == "folder" and "8 faces" in r["faces"]
        assert 0 < r["min_ms"] <= r["median_ms"] <= r["p99_ms"] <= r["max_ms"]
        assert r["items_per_s"] > 0
        assert r["ort_options"]["graph_optimization"] == "all"
    assert d["config"]["measure"] == {"count": 3, "seconds": None}
    assert d["environment"]["packages"]["onnxruntime"]
    assert "faces/s" in table.read_text() and "tiny" in res.output
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_int8_and_fp32_side_by_side_and_options(tiny_model, tiny_qdq_model, faces_dir, tmp_path):
    out = tmp_path / "r.json"
    res = run(["--model", str(tiny_model), "--model", str(tiny_qdq_model), "--faces", str(faces_dir),
               "--face-limit", "4", "--batch-sizes", "2", "--threads", "1", "--no-spinning", "--graph-opt", "basic",
               *FAST, "--json", str(out)])
    assert res.exit_code == 0, res.output
    rows = json.loads(out.read_text())["model"]
    assert [r["precision"] for r in rows] == ["fp32", "int8"]
    assert all(r["ort_options"] == {"intra_op_threads": 1, "inter_op_threads": 1, "allow_spinning": False,
                                    "graph_optimization": "basic", "sequential": True} for r in rows)


def test_json_to_stdout_and_unavailable_backend_is_skipped(tiny_model, faces_dir):
    res = CliRunner().invoke(cli, ["bench", "--model", str(tiny_model), "--faces", str(faces_dir), "--face-limit", "2",
                                   "--batch-sizes", "1", "--backend", "onnxruntime", "--backend", "tensorrt",
                                   *FAST, "--json", "-"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert len(d["model"]) == 1 and d["model"][0]["backend"] == "onnxruntime"
    if not d["environment"]["gpus"]:
        assert len(d["skipped"]) == 1 and d["skipped"][0]["backend"] == "tensorrt" and d["skipped"][0]["reason"]


def test_pipeline_split_and_streamed(tiny_model, tmp_path):
    out = tmp_path / "p.json"
    res = run(["--model", str(tiny_model), "--images", str(FIXTURES), "--detector", "haar", "--pipeline-only",
               "--pipeline-batch", "4", "--duration", "0.1s", "-q", "--json", str(out)])
    assert res.exit_code == 0, res.output
    p = json.loads(out.read_text())["pipeline"]
    assert p["split"]["images"] == 2 and p["split"]["faces"] >= 2          # the 2 multi-face canvases
    assert set(p["split"]["stages"]) == {"decode", "detect", "crop", "inference", "postprocess"}
    assert sum(v["share"] for v in p["split"]["stages"].values()) == pytest.approx(1.0)
    assert p["streamed"]["images"] >= 2 and p["streamed"]["images_per_s"] > 0
    assert "detect" in res.output and "streamed" in res.output


@pytest.mark.parametrize("args,needle", [
    (["--batch-sizes", "0"], "batch sizes"),
    (["--batch-sizes", "a,b"], "batch sizes"),
    (["--warmup", "soon"], "--warmup"),
    (["--duration", "2min"], "--duration"),
    (["--pipeline-only"], "--images"),
])
def test_bad_arguments_are_usage_errors(tiny_model, args, needle):
    res = CliRunner().invoke(cli, ["bench", "--model", str(tiny_model), *args])
    assert res.exit_code == 2 and needle in res.output


def test_bench_never_imports_torch(tiny_model, faces_dir):
    code = ("import sys; from click.testing import CliRunner; from agegender_edge.cli.main import cli; "
            f"r = CliRunner().invoke(cli, ['bench', '--model', {str(tiny_model)!r}, '--faces', {str(faces_dir)!r}, "
            "'--face-limit', '2', '--batch-sizes', '1', '--warmup', '0', '--iterations', '1', '-q']); "
            "assert r.exit_code == 0, r.output; assert 'torch' not in sys.modules, 'torch imported'; "
            "assert 'tensorrt' not in sys.modules; print('ok')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert res.returncode == 0 and res.stdout.strip().endswith("ok"), res.stderr


def test_repeats_report_medians(tiny_model, faces_dir, tmp_path):
    out = tmp_path / "r.json"
    res = run(["--model", str(tiny_model), "--faces", str(faces_dir), "--face-limit", "2", "--batch-sizes", "1,2",
               "--repeats", "3", *FAST, "--json", str(out)])
    assert res.exit_code == 0, res.output
    rows = json.loads(out.read_text())["model"]
    assert [(r["batch_size"], r["repeats"], len(r["items_per_s_repeats"])) for r in rows] == [(1, 3, 3), (2, 3, 3)]


def test_end_to_end_row_beside_model_only(tiny_model, faces_dir, tmp_path):
    """bench times each ONNX Runtime model end to end on the face files (Predictor.predict_faces)
    and reports it next to its model-only figure at the same batch size, with the network's busy share."""
    out = tmp_path / "r.json"
    res = run(["--model", str(tiny_model), "--faces", str(faces_dir), "--face-limit", "8", "--batch-sizes", "1,4",
               "--warmup", "1", "--duration", "0.2s", "-q", "--json", str(out)])
    assert res.exit_code == 0, res.output
    d = json.loads(out.read_text())
    (row,) = d["extra"]["end_to_end"]
    assert row["batch_size"] == 4 and row["kind"] == "faces" and row["faces"] == row["items"] >= 8
    assert row["model_only_faces_per_s"] == next(r["items_per_s"] for r in d["model"] if r["batch_size"] == 4)
    assert row["faces_per_s"] > 0 and 0 < row["network_busy"] <= 1
    assert row["intra_op_threads"] + row["prep_workers"] >= 2 and row["pipelined"] is True
    table = res.output
    assert table.index("end to end") < table.index("model only") and "network busy" in table
    res = run(["--model", str(tiny_model), "--faces", str(faces_dir), "--face-limit", "4", "--batch-sizes", "2",
               *FAST, "--no-end-to-end", "--json", str(out)])
    assert res.exit_code == 0 and "end_to_end" not in json.loads(out.read_text())["extra"]


def test_bench_alone_times_the_file_the_default_runs_from(faces_dir, tmp_path, monkeypatch):
    from agegender_edge.shipped import default_for_backend, default_model_path
    monkeypatch.delenv("AGEGENDER_EDGE_MODEL", raising=False)
    out = tmp_path / "r.json"
    res = run(["--faces", str(faces_dir), "--face-limit", "4", "--batch-sizes", "2", *FAST, "--no-end-to-end",
               "--json", str(out)])
    assert res.exit_code == 0, res.output
    want = str(default_for_backend(default_model_path(), on_gpu=False))   # the INT8 file on CPU
    assert json.loads(out.read_text())["config"]["models"] == [want]
    assert "random pixels" not in res.output


def test_bench_outside_the_checkout_says_it_times_synthetic_pixels(tiny_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)            # no ../shared/data/fixtures here
    out = tmp_path / "r.json"
    res = CliRunner().invoke(cli, ["bench", "--model", str(tiny_model), "--batch-sizes", "2", *FAST,
                                   "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "random pixels (synthetic input)" in res.stderr and "end-to-end table" in res.stderr
    d = json.loads(out.read_text())
    assert {r["faces_kind"] for r in d["model"]} == {"synthetic"} and "end_to_end" not in d["extra"]


@pytest.mark.parametrize("args,needle", [
    (["--device", "tpu"], "'tpu' is not a device"),
    (["--detector", "foo"], "unknown detector 'foo'"),
    (["--model", "/missing.onnx"], "model not found"),
    (["--json", "/missing_dir/r.json"], "does not exist"),
    (["--table", "/missing_dir/r.txt"], "does not exist"),
])
def test_bad_values_and_unwritable_outputs_exit_2_before_any_timing(tiny_model, args, needle):
    res = CliRunner().invoke(cli, ["bench", "--model", str(tiny_model), *FAST, *args])
    assert res.exit_code == 2 and needle in res.output and "Traceback" not in res.output
    assert "faces/s" not in res.output


def test_bench_model_all_times_every_shipped_model(faces_dir, tmp_path, monkeypatch):
    from agegender_edge.shipped import resolve_model, shipped_models
    monkeypatch.delenv("AGEGENDER_EDGE_MODEL", raising=False)
    out = tmp_path / "r.json"
    res = run(["--model", "all", "--faces", str(faces_dir), "--face-limit", "4", "--batch-sizes", "2", *FAST,
               "--no-end-to-end", "--json", str(out)])
    assert res.exit_code == 0, res.output
    d = json.loads(out.read_text())
    shipped = [str(resolve_model(n)) for n in shipped_models()]
    assert len(shipped) >= 3 and d["config"]["models"] == shipped          # default first, then the others
    assert sorted({r["model"] for r in d["model"]}) == sorted(shipped)
    assert {r["precision"] for r in d["model"]} >= {"fp32", "int8"}


def test_no_progress_frames_when_stderr_is_not_a_terminal(tiny_model, faces_dir):
    """Without -q, redirected stderr (a log file, CI) gets no tqdm frames."""
    proc = subprocess.run([sys.executable, "-m", "agegender_edge.cli.main", "bench", "--model", str(tiny_model),
                           "--faces", str(faces_dir), "--face-limit", "4", "--batch-sizes", "1,2", "--warmup", "1",
                           "--iterations", "3", "--no-end-to-end"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr and "cfg" not in proc.stderr
    assert "tiny" in proc.stdout
