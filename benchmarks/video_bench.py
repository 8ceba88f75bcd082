"""Video end to end: 640x480 clips with 1 and with 6 faces, every=1 and every=3, detecting at
full resolution (the default) and on a copy downscaled to 320 px (``detect_max_side=320``).

    python benchmarks/video_bench.py [--frames 240] [--model NAME] [--repeats 3]

The clips are generated from UTKFace val chips (agegender_edge/video/synthetic.py: faces
drifting over a textured background, mp4v), then timed with agegender_edge.bench.video
(``Predictor.predict_video``: decode, YuNet detection, tracking, crop, inference batched across
frames, smoothing) with the default model and detector as ``Predictor()`` runs them. Each
configuration runs ``--repeats`` times, interleaved, and the median run (by frames/s) is
reported. The load average before and after is recorded, and flagged when other work was
running (figures from a busy machine are lower bounds). Writes benchmarks/results/video.json
and video.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from agegender_edge.bench.env import capture_environment, finish_environment  # noqa: E402
from agegender_edge.bench.video import bench_video, video_table  # noqa: E402
from agegender_edge.video.synthetic import grid_scene, render, utkface_val_chips, write_video  # noqa: E402

UTKFACE = REPO.parent / "shared" / "data" / "utkface"
FIXTURES = REPO.parent / "shared" / "data" / "fixtures" / "utkface_48"


def make_clips(folder: Path, frames: int) -> dict[int, Path]:
    chips, labels = utkface_val_chips(UTKFACE, 3, 3, seed=5, exclude=[p.name for p in FIXTURES.iterdir()])
    out = {}
    for n in (1, 6):
        scene = grid_scene(chips, labels, n, width=640, height=480, n_frames=frames)
        imgs, _ = render(scene, frames, 640, 480, seed=n)
        out[n] = write_video(folder / f"faces{n}_640x480.mp4", imgs, fps=30.0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=240)
    ap.add_argument("--model", default=None, help="default: the model Predictor() runs")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "video")
    args = ap.parse_args()

    from agegender_edge import Predictor

    env = capture_environment()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, Predictor(model=args.model, backend="onnxruntime", device="cpu") as p:
        clips = make_clips(Path(tmp), args.frames)
        runs: dict[tuple, list[dict]] = {}
        for _ in range(args.repeats):
            for side in (None, 320):
                for n, path in clips.items():
                    for every in (1, 3):
                        runs.setdefault((side, n, every), []).append(
                            bench_video(p, path, every=every, detect_max_side=side))
        for (_side, n, every), rs in runs.items():
            med = sorted(rs, key=lambda r: r["frames_per_s"])[len(rs) // 2]
            med = dict(med, faces_scripted=n, repeats_frames_per_s=[round(r["frames_per_s"], 1) for r in rs],
                       video=Path(med["video"]).name)
            rows.append(med)
        model_name, threads = p.model_path.name, p.threads.describe()
    finish_environment(env)

    report = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "command":
              "python benchmarks/video_bench.py " + " ".join(sys.argv[1:]), "environment": env, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    busy = env.get("busy_warning")
    load = f"load average {env.get('load_average_start')} at start, {env.get('load_average_end')} at end"
    md = [
        "# Video end to end (benchmarks/video_bench.py)",
        "",
        f"{report['date']}, {env.get('cpu_model')}, {env.get('usable_cpus')} usable CPUs, model `{model_name}`, "
        f"detector {rows[0]['detector']} (`det px`: the longer side it ran at), {threads}.",
        f"640x480 mp4v clips of {args.frames} frames generated from UTKFace val chips; median of {args.repeats} "
        f"interleaved runs per row (all runs' frames/s in video.json).",
        "",
        f"**{load}.**" + (" **The machine was busy with other work (training, other jobs): these figures are "
                          "lower bounds; rerun on an idle machine.**" if busy else ""),
        "",
        "```",
        video_table(rows),
        "```",
        "",
        "frames/s: frames / wall time of the run. Latency: frame decoded -> its result yielded; for files it "
        "includes the read-ahead queues (the reader runs ahead of the pipeline), so it is an upper bound of what "
        "a live source sees. faces/call: faces per network call (cross-frame batching). Rows at det px 320 use "
        "`predict_video(detect_max_side=320)`: faces of ~45 px and more are still found at 640x480.",
    ]
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
