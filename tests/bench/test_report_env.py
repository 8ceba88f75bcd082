"""Report JSON schema, table text, plot file and environment capture."""
from __future__ import annotations

import json

import pytest

from agegender_edge.bench.env import capture_environment, finish_environment
from agegender_edge.bench.report import SCHEMA, BenchReport, write_plot
from agegender_edge.bench.stats import summarize


def _row(label, bs, seconds):
    return {"label": label, "backend": "onnxruntime", "precision": "fp32", "batch_size": bs,
            **summarize(seconds, bs).to_dict()}


def _report(busy=False):
    env = capture_environment(threads=2)
    env["busy_warning"] = busy
    rows = [_row("a fp32", 1, [0.002, 0.003]), _row("a fp32", 8, [0.010, 0.012]), _row("b int8", 1, [0.001])]
    pipeline = {"images_desc": "2 photos", "detector": "haar", "batch_size": 32, "workers": 2, "model": "m.onnx",
                "split": {"stages": {s: {"mean_ms": 1.0, "share": 0.2} for s in
                                     ("decode", "detect", "crop", "inference", "postprocess")},
                          "sequential_ms_per_image": 5.0, "sequential_images_per_s": 200.0, "faces_per_image": 1.0},
                "streamed": {"images": 10, "faces": 10, "seconds": 0.05, "images_per_s": 200.0, "faces_per_s": 200.0}}
    return BenchReport(environment=env, config={"batch_sizes": [1, 8]}, model=rows,
                       skipped=[{"target": "x tensorrt", "backend": "tensorrt", "reason": "no CUDA device"}],
                       pipeline=pipeline)


def test_environment_has_what_reports_need():
    env = finish_environment(capture_environment(threads=2, precision="fp32"))
    for key in ("cpu_model", "logical_cpus", "usable_cpus", "threads", "precision", "gpus", "packages",
                "python", "load_average_start", "load_average_end", "busy_warning", "time_utc"):
        assert key in env, key
    assert env["threads"] == 2 and env["precision"] == "fp32"
    assert "numpy" in env["packages"] and "onnxruntime" in env["packages"]
    assert isinstance(env["busy_warning"], bool) and env["usable_cpus"] >= 1


def test_json_schema_round_trip():
    rep = _report()
    d = json.loads(rep.to_json())
    assert d["schema"] == SCHEMA
    assert set(d) == {"schema", "environment", "config", "model", "skipped", "pipeline", "extra"}
    for row in d["model"]:
        for key in ("label", "backend", "precision", "batch_size", "n", "min_ms", "mean_ms", "median_ms",
                    "p90_ms", "p95_ms", "p99_ms", "items_per_s"):
            assert key in row
    assert d["model"][1]["items_per_s"] == pytest.approx(8 * 2 / 0.022)
    again = BenchReport.from_dict(d)
    assert again.model == d["model"] and again.pipeline == d["pipeline"]
    with pytest.raises(ValueError):
        BenchReport.from_dict({**d, "schema": "something/else"})


def test_table_lists_rows_skips_pipeline_and_environment():
    text = _report().table()
    assert "faces/s" in text and "p99 ms" in text
    assert "a fp32" in text and "b int8" in text
    assert "skipped x tensorrt: no CUDA device" in text
    for stage in ("decode", "detect", "crop", "inference", "postprocess"):
        assert stage in text
    assert "200.0 images/s" in text
    assert "machine :" in text and "software:" in text and "WARNING" not in text
    assert "WARNING: machine busy" in _report(busy=True).table()


def test_plot_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = write_plot(_report(), tmp_path / "sub" / "plot.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_merge_repeats_takes_the_median_per_configuration():
    from agegender_edge.bench.model import merge_repeats
    runs = [[_row("a", 1, [s]), _row("a", 8, [2 * s])] for s in (0.001, 0.005, 0.002)]
    merged = merge_repeats(runs)
    assert [(r["label"], r["batch_size"], r["repeats"]) for r in merged] == [("a", 1, 3), ("a", 8, 3)]
    assert merged[0]["median_ms"] == pytest.approx(2.0) and merged[1]["median_ms"] == pytest.approx(4.0)
    assert merged[0]["items_per_s"] == pytest.approx(500.0)          # median of 1000, 200, 500
    assert merged[0]["items_per_s_repeats"] == [1000.0, 200.0, 500.0]
