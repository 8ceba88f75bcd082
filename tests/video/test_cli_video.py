"""``agegender-edge video`` (agegender_edge/cli/video.py), the example script, and the pointer
from ``predict``: run as users run them, on the real encoded clip."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import cv2
import pytest
from click.testing import CliRunner

from agegender_edge.cli.main import cli
from agegender_edge.cli.predict import round_floats

from ..conftest import REPO
from .conftest import N_FRAMES


@pytest.fixture(scope="module")
def api_results(video_predictor, crossing_clip):
    with video_predictor.predict_video(crossing_clip.path) as stream:
        return [r.to_dict() for r in stream], [t.to_dict() for t in stream.summary()]


@pytest.fixture(scope="module")
def cli_run(crossing_clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli")
    r = CliRunner().invoke(cli, ["video", str(crossing_clip.path), "-o", str(out / "frames.jsonl"),
                                 "--tracks", str(out / "tracks.csv"), "--annotate", str(out / "annotated.mp4")])
    return r, out


def test_jsonl_matches_the_api(cli_run, api_results):
    r, out = cli_run
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in (out / "frames.jsonl").read_text().splitlines()]
    frames, _ = api_results
    assert [d["frame"] for d in lines] == list(range(N_FRAMES))
    assert [round_floats(f) for f in json.loads(json.dumps(frames))] == lines   # rounded as predict's JSON
    assert f"{N_FRAMES}/{N_FRAMES} frames processed" in r.output


def test_tracks_csv_matches_the_summary(cli_run, api_results):
    _, out = cli_run
    rows = list(csv.DictReader((out / "tracks.csv").open()))
    _, summary = api_results
    assert [int(r["track_id"]) for r in rows] == [t["track_id"] for t in summary]
    for row, t in zip(rows, summary):
        assert row["gender"] == t["gender"] and row["age_group"] == t["age_group"]
        assert int(row["frames_seen"]) == t["frames_seen"]


def test_annotated_video_is_playable(cli_run, crossing_clip):
    _, out = cli_run
    cap = cv2.VideoCapture(str(out / "annotated.mp4"))
    n = 0
    while True:
        ok, f = cap.read()
        if not ok:
            break
        n += 1
        assert f.shape == crossing_clip.frames[0].shape
    assert n == N_FRAMES
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(24.0)


def test_csv_format_one_row_per_face(crossing_clip, api_results):
    r = CliRunner().invoke(cli, ["video", str(crossing_clip.path), "--format", "csv", "--max-frames", "12",
                                 "--every", "3"])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(line for line in r.stdout.splitlines()))
    assert {int(x["frame"]) for x in rows} == set(range(12))
    assert all(x["track_gender"] in ("female", "male") and x["track_id"] for x in rows)
    assert {x["detected"] for x in rows} == {"0", "1"}


@pytest.mark.parametrize("args,code,text", [
    (["video", "/nonexistent/clip.mp4"], 1, "no such file"),
    (["video", "97"], 1, "camera 97"),
    (["video", "-"], 2, "standard input"),
    (["video", "x.mp4", "--every", "0"], 2, "--every"),
    (["video", "x.mp4", "--annotate", "out.gif"], 2, "annotated video must end"),
])
def test_errors_and_exit_codes(args, code, text):
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == code, r.output
    assert text in r.output


def test_predict_points_to_video(crossing_clip):
    r = CliRunner().invoke(cli, ["predict", str(crossing_clip.path)])
    assert r.exit_code == 2 and "agegender-edge video" in r.output


def test_example_video_to_jsonl(tmp_path, crossing_clip):
    out = tmp_path / "frames.jsonl"
    r = subprocess.run([sys.executable, str(REPO / "examples" / "video_to_jsonl.py"), str(crossing_clip.path), str(out),
                        "--every", "2"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == N_FRAMES and json.loads(lines[0])["faces"]
    assert f"{N_FRAMES} frames (0 dropped, 0 skipped)" in r.stdout and "track 1: frames 0-" in r.stdout


def test_summary_counts_people_and_embeddings_only_when_asked(crossing_clip, tmp_path, video_predictor):
    """--summary FILE.json: unique people (as the API's count_people) with totals by age group x
    gender; descriptors are written only with --embeddings."""
    with video_predictor.predict_video(crossing_clip.path) as stream:
        list(stream)
        api = stream.count_people(5).to_dict()
    out = tmp_path / "people.json"
    r = CliRunner().invoke(cli, ["video", str(crossing_clip.path), "-o", str(tmp_path / "f.jsonl"),
                                 "--summary", str(out), "--min-track-frames", "5"])
    assert r.exit_code == 0, r.output
    got = json.loads(out.read_text())
    assert got["unique_people"] == api["unique_people"] == 4 and got["final"] is True
    assert got["by_age_group_gender"] == api["by_age_group_gender"]
    assert [p["track_id"] for p in got["people"]] == [p["track_id"] for p in api["people"]]
    assert "4 people" in r.output
    text = (tmp_path / "f.jsonl").read_text()
    assert "embedding" not in text and all("embedding" not in p for p in got["people"])
    r = CliRunner().invoke(cli, ["video", str(crossing_clip.path), "-o", str(tmp_path / "e.jsonl"),
                                 "--summary", str(out), "--embeddings", "--max-frames", "12"])
    assert r.exit_code == 0, r.output
    first = json.loads((tmp_path / "e.jsonl").read_text().splitlines()[0])
    dim = video_predictor.metadata.embedding.dim
    assert len(first["faces"][0]["embedding"]) == dim
    assert all(len(p["embedding"]) == dim for p in json.loads(out.read_text())["people"])
