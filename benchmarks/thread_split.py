#!/usr/bin/env python
"""Measure how to split the cores between ONNX Runtime intra-op threads and prep workers.

End to end (files in, results out), interleaved repeats, median reported, on two workloads:
UTKFace val chips from files through ``predict_faces`` and 640x480 one-face photos through
``predict_iter`` with the default detector. Also times the unpipelined reference path with the
old defaults (ORT 2 threads + 2 workers, prepare-all-then-infer) as the "before" figure.

    python benchmarks/thread_split.py --models edge_resnet_utkface_fast,edge_resnet_utkface_int8
Writes benchmarks/results/thread_split.json (with the machine load; a busy machine is flagged).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from agegender_edge.backends.onnxruntime import OrtOptions  # noqa: E402
from agegender_edge.bench.env import capture_environment, finish_environment  # noqa: E402
from agegender_edge.bench.pipeline import end_to_end  # noqa: E402
from agegender_edge.bench.stats import median  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="edge_resnet_utkface_fast")
    ap.add_argument("--splits", default="1+1,2+1,1+2,2+2", help="intra-op threads + prep workers")
    ap.add_argument("--workloads", default="chips,photos")
    ap.add_argument("--chips", type=int, default=256)
    ap.add_argument("--photos", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "thread_split.json")
    a = ap.parse_args()
    from agegender_edge.predictor import Predictor
    from photos import make_photos, val_chips

    chips = val_chips(a.chips)
    photo_dir = Path(tempfile.mkdtemp(prefix="agegender-split-"))
    photos = make_photos(photo_dir, a.photos)
    splits = [tuple(int(v) for v in s.split("+")) for s in a.splits.split(",")]
    configs = [(f"{i}+{w}", dict(workers=w, ort_options=OrtOptions(intra_op_threads=i))) for i, w in splits]
    configs.append(("before: unpipelined, ORT 2 + 2 workers",
                    dict(workers=2, ort_options=OrtOptions(intra_op_threads=2), pipelined=False)))
    env = capture_environment()
    rows: dict = {}
    for r in range(a.repeats):
        for model in a.models.split(","):
            for work in a.workloads.split(","):
                for name, kw in configs:
                    det = None if work == "chips" else "auto"
                    with Predictor(model, backend="onnxruntime", device="cpu", detector=det, **kw) as p:
                        got = end_to_end(p, chips if work == "chips" else photos,
                                         "faces" if work == "chips" else "photos", a.seconds)
                    key = f"{model} | {work} | {name}"
                    rows.setdefault(key, []).append(got)
                    print(f"[{time.strftime('%H:%M:%S')}] {r + 1}/{a.repeats} {key}: "
                          f"{got['items_per_s']:.0f} items/s, network busy {100 * got['network_busy']:.0f}%",
                          file=sys.stderr, flush=True)
    finish_environment(env)
    summary = {k: {"items_per_s": median([g["items_per_s"] for g in v]),
                   "faces_per_s": median([g["faces_per_s"] for g in v]),
                   "network_busy": median([g["network_busy"] for g in v]),
                   "repeats": [round(g["items_per_s"], 1) for g in v]} for k, v in rows.items()}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"environment": env, "command": " ".join(sys.argv),
                                 "results": summary}, indent=2) + "\n")
    for k, v in summary.items():
        print(f"{k:75s} {v['items_per_s']:8.1f}/s  busy {100 * v['network_busy']:3.0f}%  {v['repeats']}")
    print(f"load average {env['load_average_start']} -> {env['load_average_end']}"
          f"{'  BUSY MACHINE' if env['busy_warning'] else ''}")


if __name__ == "__main__":
    main()
