#!/usr/bin/env python
"""Soak test (issue #7, item 4): >= 10,000 predictions in one process while resident memory (VmRSS
from /proc/self/status) is sampled; the RSS must stay flat after warm-up.

Workload, repeated: ``predict_faces`` on a batch of 32 real UTKFace chips (as file paths, encoded
bytes or RGB arrays, in turn), and every 10th round the full pipeline (Haar detector) on a
multi-face canvas together with a corrupt JPEG and a PNG decompression bomb (the error paths).
Each face that goes through the network counts as one prediction.

Flat means (TOLERANCE below): after the warm-up (the first 20 % of the predictions), the median
RSS of the last 10 % of the samples exceeds the median of the first 10 % after warm-up by at
most 10 MiB, and the least-squares slope over the post-warm-up samples is at most 5 MiB per
10,000 predictions.

    python benchmarks/soak.py                       # 10,000+ predictions, shipped model
    python benchmarks/soak.py --predictions 20000 --model path/to/model.onnx
Writes benchmarks/soak_result.json and benchmarks/soak_rss.png (matplotlib, optional).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()
TOLERANCE = {"warmup_fraction": 0.2, "max_growth_mib": 10.0, "max_slope_mib_per_10k": 5.0}


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("VmRSS not found in /proc/self/status")


def chip_files(n: int) -> list[Path]:
    images = SHARED_DATA / "utkface" / "images"
    files = sorted(images.glob("*.jpg"))[:n] if images.is_dir() else []
    if len(files) < 64:
        files = sorted((SHARED_DATA / "fixtures" / "utkface_48").glob("*.jpg"))
    return files


def evaluate(samples: list[dict], tolerance: dict = TOLERANCE) -> dict:
    """Growth and slope of RSS after warm-up, and whether they are within ``tolerance``."""
    total = samples[-1]["predictions"]
    post = [s for s in samples if s["predictions"] > tolerance["warmup_fraction"] * total]
    k = max(1, len(post) // 10)
    first = float(np.median([s["rss_mib"] for s in post[:k]]))
    last = float(np.median([s["rss_mib"] for s in post[-k:]]))
    x = np.array([s["predictions"] for s in post], dtype=np.float64)
    y = np.array([s["rss_mib"] for s in post], dtype=np.float64)
    slope = float(np.polyfit(x, y, 1)[0] * 10_000) if len(post) >= 3 and np.ptp(x) > 0 else 0.0
    growth = last - first
    return {
        "warmup_predictions": int(tolerance["warmup_fraction"] * total),
        "rss_after_warmup_mib": round(first, 2),
        "rss_end_mib": round(last, 2),
        "rss_max_after_warmup_mib": round(float(y.max()), 2),
        "growth_mib": round(growth, 2),
        "slope_mib_per_10k": round(slope, 3),
        "flat": bool(growth <= tolerance["max_growth_mib"] and slope <= tolerance["max_slope_mib_per_10k"]),
        "tolerance": tolerance,
    }


def soak(model: Path, predictions: int = 10_000, batch: int = 32, full_every: int = 10, n_files: int = 2000,
         threads: int = 1, progress: bool = False, warmup_rounds: int = 0) -> dict:
    """Run the workload until ``predictions`` faces were predicted; ``warmup_rounds`` extra rounds
    run first and are not sampled (the short in-suite version uses them instead of a warm-up share)."""
    import cv2

    from agegender_edge.backends.onnxruntime import OrtOptions
    from agegender_edge.predictor import Predictor

    files = chip_files(n_files)
    canvas = SHARED_DATA / "fixtures" / "multi_face_canvas_0.jpg"
    corrupt = files[0].read_bytes()[:2000]
    bomb = _png_bomb(100_000, 100_000)
    opts = OrtOptions(intra_op_threads=threads)
    chips = Predictor(model, backend="onnxruntime", device="cpu", detector=None, batch_size=batch, ort_options=opts)
    full = Predictor(model, backend="onnxruntime", device="cpu", detector="haar", batch_size=batch, ort_options=opts)
    samples: list[dict] = []
    done = errors = rounds = 0
    start = time.perf_counter()
    try:
        while rounds < warmup_rounds or done < predictions:
            if rounds == warmup_rounds:
                done = errors = 0
                start = time.perf_counter()
                samples.append({"predictions": 0, "t_s": 0.0, "rss_mib": round(rss_mib(), 2)})
            sel = [files[(rounds * batch + i) % len(files)] for i in range(batch)]
            mode = rounds % 3
            if mode == 0:
                items, order = [str(p) for p in sel], None
            elif mode == 1:
                items, order = [p.read_bytes() for p in sel], None
            else:
                items, order = [cv2.imread(str(p))[:, :, ::-1] for p in sel], "RGB"
            res = chips.predict_faces(items, colour_order=order)
            done += sum(len(r.faces) for r in res)
            errors += sum(not r.ok for r in res)
            if rounds % full_every == 0:
                res = full.predict([str(canvas), corrupt, bomb])
                done += len(res[0].faces)
                assert res[1].error_type == "InvalidImageError" and res[2].error_type == "ImageTooLargeError"
            rounds += 1
            if rounds <= warmup_rounds:
                continue
            samples.append({"predictions": done, "t_s": round(time.perf_counter() - start, 3),
                            "rss_mib": round(rss_mib(), 2)})
            if progress and rounds % 50 == 0:
                print(f"{done:6d} predictions  {samples[-1]['t_s']:7.1f} s  RSS {samples[-1]['rss_mib']:.1f} MiB",
                      file=sys.stderr)
    finally:
        chips.close()
        full.close()
    elapsed = time.perf_counter() - start
    import onnxruntime
    result = {
        "predictions": done,
        "rounds": rounds - warmup_rounds,
        "unsampled_warmup_rounds": warmup_rounds,
        "unexpected_errors": errors,
        "duration_s": round(elapsed, 1),
        "predictions_per_s": round(done / elapsed, 1),
        "model": Path(model).name,
        "workload": f"predict_faces x {batch} chips/round (paths, bytes, RGB arrays in turn) from {len(files)} "
                    f"UTKFace images; every {full_every}th round predict([canvas, corrupt JPEG, PNG bomb]) with Haar",
        "ort_intra_op_threads": threads,
        "environment": {"python": platform.python_version(), "onnxruntime": onnxruntime.__version__,
                        "opencv": cv2.__version__, "cpus": os.cpu_count()},
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "samples": samples,
    }
    result.update(evaluate(samples))
    return result


def _png_bomb(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def plot(result: dict, path: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    s = result["samples"]
    x = [p["predictions"] for p in s]
    y = [p["rss_mib"] for p in s]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(x, y, lw=1, label="RSS (VmRSS)")
    ax.axvline(result["warmup_predictions"], color="grey", ls="--", lw=1, label="end of warm-up")
    base = result["rss_after_warmup_mib"]
    ax.axhspan(base, base + result["tolerance"]["max_growth_mib"], color="green", alpha=0.12,
               label=f"tolerance (+{result['tolerance']['max_growth_mib']:g} MiB)")
    ax.set_xlabel("predictions")
    ax.set_ylabel("MiB")
    ax.set_title(f"soak: {result['predictions']:,} predictions, growth {result['growth_mib']:+.1f} MiB, "
                 f"{'flat' if result['flat'] else 'NOT flat'}")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--predictions", type=int, default=10_000)
    ap.add_argument("--model", type=Path, default=None, help="default: the model shipped in the package")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    ap.add_argument("--out", type=Path, default=HERE / "soak_result.json")
    ap.add_argument("--plot", type=Path, default=HERE / "soak_rss.png")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from agegender_edge.predictor import default_model_path

    model = args.model or default_model_path()
    if not Path(model).is_file():
        print(f"model not found: {model} (pass --model)", file=sys.stderr)
        return 2
    result = soak(model, args.predictions, batch=args.batch, threads=args.threads, progress=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    drawn = plot(result, args.plot)
    summary = {k: v for k, v in result.items() if k != "samples"}
    print(json.dumps(summary, indent=2))
    print(f"wrote {args.out}" + (f" and {args.plot}" if drawn else ""), file=sys.stderr)
    return 0 if result["flat"] and result["unexpected_errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
