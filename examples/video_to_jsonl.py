"""Track faces in a video file, camera or stream; one JSON line per frame, then a track summary.

    python examples/video_to_jsonl.py SOURCE out.jsonl [--every 3] [--max-frames 300]

SOURCE: a video file (mp4, avi, mkv, webm, ...), a camera index (0) or an rtsp:// / http:// URL.
Each line holds the frame index, its timestamp and the faces, each with its per-frame prediction
and its track's smoothed one (track_id, track.gender, track.age, ...).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from agegender_edge import Predictor
from agegender_edge.errors import VideoSourceError


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", help="video file, camera index or stream URL")
    ap.add_argument("out_jsonl", type=Path)
    ap.add_argument("--every", type=int, default=1, help="run the face detector on every K-th frame")
    ap.add_argument("--max-frames", type=int, default=None)
    args = ap.parse_args()
    source = int(args.source) if args.source.isdigit() else args.source

    with Predictor() as predictor, open(args.out_jsonl, "w") as out:
        try:
            with predictor.predict_video(source, every=args.every, max_frames=args.max_frames) as frames:
                for frame in frames:
                    out.write(frame.to_json() + "\n")
                tracks, stats = frames.summary(), frames.stats
        except VideoSourceError as exc:
            print(f"error: {exc}")
            return 1
    print(f"{stats.frames_processed} frames ({stats.frames_dropped} dropped, {stats.frames_skipped} skipped), "
          f"{len(tracks)} tracks")
    for t in tracks:
        print(f"track {t.track_id}: frames {t.first_frame}-{t.last_frame} ({t.frames_seen} seen), {t.gender} "
              f"{t.gender_probability:.2f}, {t.age:.0f} y ({t.age_interval_80[0]:.0f}-{t.age_interval_80[1]:.0f}), "
              f"group {t.age_group}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
