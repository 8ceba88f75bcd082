"""``agegender-edge video SOURCE``: a video file, camera index or stream URL -> one JSON object per
frame (jsonl) or one CSV row per face, track summaries, an annotated video.

Exit codes as for ``predict``: 0 when at least one frame was processed (skipped frames are
reported on stderr and in the output), 1 when nothing could be processed (the source cannot be
opened, has no frames, the model cannot be loaded), 2 for usage errors.
"""
from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Optional

import click

from .options import (MIN_SCORE_HELP, check_distinct_outputs, check_output_file, detector_callback, device_callback,
                      model_callback)

FACE_CSV_FIELDS = ["frame", "timestamp_ms", "track_id", "detected", "x", "y", "width", "height", "detection_score",
                   "gender", "gender_probability", "age", "age_low_80", "age_high_80", "age_group",
                   "track_gender", "track_gender_probability", "track_age", "track_age_low_80", "track_age_high_80",
                   "track_age_group", "error"]
TRACK_CSV_FIELDS = ["track_id", "first_frame", "last_frame", "frames_seen", "frames_detected", "gender",
                    "gender_probability", "age", "age_low_80", "age_high_80", "age_group"]


def parse_source(text: str):
    """A camera index ("0"), a URL, or a path."""
    if text.strip().isdigit():
        return int(text)
    if text == "-":
        raise click.UsageError("reading a video from standard input is not supported: give a file, a camera "
                               "index or a URL")
    return text


def face_rows(result) -> list[dict]:
    ts = "" if result.timestamp_ms is None else round(result.timestamp_ms, 1)
    if result.error:
        return [{"frame": result.frame, "timestamp_ms": ts, "error": result.error}]
    rows = []
    for f in result.faces:
        b, t = f.face.box, f.track
        rows.append({"frame": result.frame, "timestamp_ms": ts, "track_id": f.track_id, "detected": int(f.detected),
                     "x": round(b.x, 1), "y": round(b.y, 1), "width": round(b.width, 1), "height": round(b.height, 1),
                     "detection_score": round(f.face.detection_score, 4), "gender": f.face.gender,
                     "gender_probability": round(f.face.gender_probability, 4), "age": round(f.face.age, 2),
                     "age_low_80": round(f.face.age_interval_80[0], 1),
                     "age_high_80": round(f.face.age_interval_80[1], 1),
                     "age_group": f.face.age_group, "track_gender": t.gender,
                     "track_gender_probability": round(t.gender_probability, 4), "track_age": round(t.age, 2),
                     "track_age_low_80": round(t.age_interval_80[0], 1),
                     "track_age_high_80": round(t.age_interval_80[1], 1),
                     "track_age_group": t.age_group, "error": ""})
    return rows


class RollingSummary:
    """``--summary FILE.json``: the people count at the end; for live sources also every
    ``every_s`` seconds while the stream runs (written to a temporary file and renamed, so a
    reader never sees half a file)."""

    def __init__(self, path: Optional[Path], min_track_frames: int, every_s: Optional[float]):
        import time
        self.path, self.min_track_frames, self.every_s = path, min_track_frames, every_s
        self._next = time.monotonic() + every_s if every_s else None

    def maybe_write(self, stream) -> None:
        import time
        if self.path is None or self._next is None or time.monotonic() < self._next:
            return
        self._next = time.monotonic() + self.every_s
        self.write(stream, final=False)

    def write(self, stream, final: bool = True) -> None:
        import os
        if self.path is None:
            return
        d = stream.count_people(self.min_track_frames).to_dict()
        d["final"] = final
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(d, indent=1) + "\n")
        os.replace(tmp, self.path)


def write_tracks_csv(path: Path, summaries) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=TRACK_CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for s in summaries:
        w.writerow({"track_id": s.track_id, "first_frame": s.first_frame, "last_frame": s.last_frame,
                    "frames_seen": s.frames_seen, "frames_detected": s.frames_detected, "gender": s.gender,
                    "gender_probability": round(s.gender_probability, 4), "age": round(s.age, 2),
                    "age_low_80": round(s.age_interval_80[0], 1), "age_high_80": round(s.age_interval_80[1], 1),
                    "age_group": s.age_group})
    path.write_text(buf.getvalue())   # its folder was checked before any work (cli/options.py)


@click.command()
@click.argument("source")
@click.option("--model", type=click.Path(path_type=Path), default=None, callback=model_callback,
              help="ONNX or TensorRT engine file, or a shipped model's name (default: the shipped model).")
@click.option("--backend", type=click.Choice(["auto", "onnxruntime", "tensorrt"]), default="auto", show_default=True)
@click.option("--device", default=None, callback=device_callback,
              help="cpu, cuda or cuda:N (default: best available, logged).")
@click.option("--detector", default="auto", show_default=True, callback=detector_callback,
              help="auto (YuNet), haar[:XML], yunet[:ONNX].")
@click.option("--min-score", default=None, type=click.FloatRange(0.0, 1.0), help=MIN_SCORE_HELP)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True,
              help="jsonl: one JSON object per frame; csv: one row per face.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=lambda c, p, v: check_output_file(v, "-o/--output"),
              help="Write the per-frame results to this file instead of stdout (its folder must exist).")
@click.option("--tracks", "tracks_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=lambda c, p, v: check_output_file(v, "--tracks"),
              help="Write one CSV row per track (first/last frame, smoothed gender and age) to this file.")
@click.option("--annotate", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=lambda c, p, v: check_output_file(v, "--annotate"),
              help="Write the video with boxes, track ids and smoothed labels (.mp4/.mov: mp4v, .avi/.mkv: MJPG).")
@click.option("--every", default=1, show_default=True, type=click.IntRange(1),
              help="Run the detector on every K-th frame; tracks carry the faces in between.")
@click.option("--max-frames", default=None, type=click.IntRange(1), help="Stop after N frames.")
@click.option("--max-delay-frames", default=4, show_default=True, type=click.IntRange(1),
              help="Faces of up to this many frames share one inference call (latency bound).")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 1024),
              help="Faces per inference call at most.")
@click.option("--live/--no-live", default=None,
              help="Drop stale frames when behind (default: on for cameras and URLs, off for files).")
@click.option("--detect-max-side", default=None, type=click.IntRange(16),
              help="Detect on a copy of each frame downscaled to this longer side (faster; e.g. 320 still finds "
                   "faces of ~45 px in 640x480). Default: the detector's own limit (960).")
@click.option("--no-smoothing", is_flag=True, help="Report each frame's own prediction as the track's.")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds to wait for a stream to open, and for each frame.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar with frames/s on stderr (default: files on a terminal).")
@click.option("--summary", "summary_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=lambda c, p, v: check_output_file(v, "--summary"),
              help="Write the people count (unique people with smoothed age, age group and gender; totals by age "
                   "group x gender) as JSON to this file; live sources rewrite it every --summary-every seconds.")
@click.option("--min-track-frames", default=5, show_default=True, type=click.IntRange(1),
              help="A person is a track seen on at least this many frames (--summary).")
@click.option("--summary-every", default=10.0, show_default=True, type=click.FloatRange(0.1),
              help="Live sources: seconds between rewrites of the rolling --summary file.")
@click.option("--reid-window", default=2.0, show_default=True, type=click.FloatRange(0.0),
              help="Seconds a lost face can be re-identified by appearance and keep its id (occlusions).")
@click.option("--embeddings", is_flag=True,
              help="Also write the face descriptors (per face in the output, per person in --summary). Off by "
                   "default: they stay in memory only (docs/VIDEO.md, Privacy).")
def video(source, model, backend, device, detector, min_score, fmt, output, tracks_out, annotate, every, max_frames,
          max_delay_frames, batch_size, live, detect_max_side, no_smoothing, timeout, progress, summary_out,
          min_track_frames, summary_every, reid_window, embeddings) -> None:
    """Tracked faces with smoothed age and gender for a video file, camera index (0) or stream URL."""
    from ..errors import AgeGenderError
    from ..predictor import Predictor
    from ..video import NO_SMOOTHING, Smoothing
    from ..video.annotate import AnnotatedVideoWriter
    from .predict import round_floats

    src = parse_source(source)
    det = None if detector.lower() == "none" else detector
    if det is None:
        raise click.UsageError("video needs a face detector (--detector none is for ready-cropped images)")
    check_distinct_outputs(**{"-o/--output": output, "--tracks": tracks_out, "--annotate": annotate,
                              "--summary": summary_out})
    try:
        writer = AnnotatedVideoWriter(annotate, None) if annotate is not None else None
    except AgeGenderError as exc:
        raise click.UsageError(str(exc))
    try:
        predictor = Predictor(model=model, backend=backend, device=device, detector=det, batch_size=batch_size,
                              min_detection_score=min_score)
    except AgeGenderError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    out = output.open("w") if output else sys.stdout
    processed = errors = faces = 0
    try:
        with predictor:
            try:
                stream = predictor.predict_video(src, every=every, live=live, max_delay_frames=max_delay_frames,
                                                 smooth=NO_SMOOTHING if no_smoothing else Smoothing(),
                                                 max_frames=max_frames, open_timeout_s=timeout, read_timeout_s=timeout,
                                                 detect_max_side=detect_max_side, reid_window_s=reid_window,
                                                 embeddings=embeddings)
            except AgeGenderError as exc:
                click.echo(f"error: {exc}", err=True)
                sys.exit(1)
            except ValueError as exc:        # e.g. --embeddings with a model that has no descriptor
                raise click.UsageError(str(exc))
            rolling = RollingSummary(summary_out, min_track_frames, summary_every if stream.source.live else None)
            if writer is not None:
                writer.fps = stream.source.fps or writer.fps
            total = stream.source.frame_count if stream.source.kind == "file" else None
            if total and max_frames:
                total = min(total, max_frames)
            show = progress if progress is not None else (stream.source.kind == "file" and sys.stderr.isatty())
            from tqdm import tqdm
            csv_writer = None
            if fmt == "csv":
                csv_writer = csv.DictWriter(out, fieldnames=FACE_CSV_FIELDS, lineterminator="\n")
                csv_writer.writeheader()
            try:
                with stream, tqdm(total=total, unit="frame", disable=not show, file=sys.stderr,
                                  dynamic_ncols=True) as bar:
                    for result, bgr in stream.with_frames():
                        processed += 1
                        faces += len(result.faces)
                        if result.error:
                            errors += 1
                            click.echo(f"error: frame {result.frame}: {result.error}", err=True)
                        if csv_writer is not None:
                            csv_writer.writerows(face_rows(result))
                        else:   # floats as `predict --format json` writes them (6 significant digits)
                            out.write(json.dumps(round_floats(result.to_dict())) + "\n")
                        if writer is not None:
                            writer.write(bgr, result)
                        rolling.maybe_write(stream)
                        bar.update(1)
            except AgeGenderError as exc:
                click.echo(f"error: {exc}", err=True)
            finally:
                if writer is not None:
                    writer.close()
            stats = stream.stats
            for w in stats.warnings:
                click.echo(f"warning: {w}", err=True)
            if tracks_out is not None:
                write_tracks_csv(tracks_out, stream.summary())
            rolling.write(stream)
    finally:
        if output:
            out.close()
    ok = processed - errors
    dropped = f", {stats.frames_dropped} dropped (live: latest-frame policy)" if processed and stats.live else ""
    people = stream.count_people(min_track_frames).unique_people if processed else 0
    click.echo(f"{ok}/{processed} frames processed{dropped}, {faces} faces, "
               f"{len(stream.summary()) if processed else 0} tracks, {people} people "
               f"(tracks of >= {min_track_frames} frames)", err=True)
    if ok == 0:
        sys.exit(1)


VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts", ".3gp",
                  ".mjpeg", ".mjpg", ".y4m"}


def video_hint(item: str) -> Optional[str]:
    """For ``predict``: a message pointing to ``video`` when an input is a video file, a stream URL
    or a camera index (which ``predict`` cannot read); None for anything else."""
    from ..video.source import STREAM_SCHEMES
    p = Path(item)
    if p.suffix.lower() in VIDEO_SUFFIXES:
        kind = "a video file"
    elif item.lower().startswith(STREAM_SCHEMES):
        kind = "a stream URL"
    elif (item.isdigit() or item == "-") and not p.exists():
        kind = "a camera index" if item.isdigit() else "standard input"
    else:
        return None
    return f"{item} is {kind}: use `agegender-edge video {item}` (tracked faces, smoothed age and gender)"
