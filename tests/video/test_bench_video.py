"""``agegender-edge bench --video`` (agegender_edge/bench/video.py): the figures are reported, never
judged (no timing assertion)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from agegender_edge.cli.main import cli

from .conftest import N_FRAMES


def test_bench_video_reports_fps_latency_and_batches(crossing_clip, tmp_path):
    out = tmp_path / "bench.json"
    r = CliRunner().invoke(cli, ["bench", "--video", str(crossing_clip.path), "--video-every", "1,3", "--pipeline-only",
                                 "-q", "--json", str(out)])
    assert r.exit_code == 0, r.output
    rows = json.loads(out.read_text())["extra"]["video"]
    assert [row["every"] for row in rows] == [1, 3]
    for row in rows:
        assert row["frames"] == N_FRAMES and row["frames_per_s"] > 0
        assert set(row["latency_ms"]) == {"p50", "p90", "p99"}
        assert row["latency_ms"]["p50"] <= row["latency_ms"]["p90"] <= row["latency_ms"]["p99"]
        # cross-frame batching: every flush carries the faces of several frames
        sizes = {int(k): v for k, v in row["faces_per_flush"].items()}
        assert sum(k * v for k, v in sizes.items()) == round(row["faces_per_frame"] * N_FRAMES)
        assert row["mean_faces_per_inference_call"] > 4
    assert rows[1]["frames_detected"] == N_FRAMES // 3
    assert "frames/s" in r.output and "faces per flush" in r.output


def test_pipeline_only_needs_images_or_video():
    r = CliRunner().invoke(cli, ["bench", "--pipeline-only", "-q"])
    assert r.exit_code == 2 and "--images or --video" in r.output
