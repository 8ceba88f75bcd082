"""INT8 (static QDQ, ONNX Runtime CPU) vs FP32: faces/s and accuracy on UTKFace val.

    python benchmarks/int8_cpu.py [--model M.onnx] [--data /work/data_cache/utk112.h5]

Calibration: faces from the TRAIN split (seeded random subset); scoring: the whole val split,
centre crop as in training. Speed: ONNX Runtime CPU, batch 32, FP32 and INT8 sessions measured
alternately in the same run (rounds interleaved so background load hits both alike); the median
of the rounds is reported. Writes benchmarks/int8_cpu.json and .md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from agegender_edge.engine.calibration import _centre_crop_nchw, faces_from_h5  # noqa: E402
from agegender_edge.engine.int8 import Int8Options, quantize_int8  # noqa: E402
from agegender_edge.engine.onnx_meta import read_metadata  # noqa: E402
from agegender_edge.metadata import OUTPUT_NAMES  # noqa: E402


def cpu_info() -> dict:
    info = {"machine": platform.machine(), "logical_cpus": os.cpu_count()}
    try:
        text = Path("/proc/cpuinfo").read_text()
        for line in text.splitlines():
            if line.startswith("model name"):
                info["model"] = line.split(":", 1)[1].strip()
                break
        flags = next((l.split(":", 1)[1].split() for l in text.splitlines() if l.startswith("flags")), [])
        info["isa"] = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f in flags]
    except OSError:
        pass
    return info


def session(model_bytes: bytes, threads: int):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])


def predict(sess, x: np.ndarray, batch: int) -> dict:
    outs = {k: [] for k in OUTPUT_NAMES}
    for s in range(0, len(x), batch):
        for k, v in zip(OUTPUT_NAMES, sess.run(list(OUTPUT_NAMES), {"input": x[s:s + batch]})):
            outs[k].append(v)
    return {k: np.concatenate(v) for k, v in outs.items()}


def metrics(out: dict, val) -> dict:
    from agegender_edge.train.metrics import Predictions, evaluate_predictions
    r = evaluate_predictions(Predictions(out["gender_probs"], out["age_group_probs"], out["age_years"]),
                             val.gender, val.age_group, val.age, val.race)
    return {"n": r.n, "gender_accuracy": r.gender_accuracy, "age_group_accuracy": r.age_group_accuracy,
            "one_off_accuracy": r.one_off_accuracy, "age_mae": r.age_mae}


def throughput(sessions: dict, x: np.ndarray, batch: int, rounds: int, seconds: float) -> dict:
    xb = [x[s:s + batch] for s in range(0, len(x) - batch + 1, batch)]
    for s in sessions.values():          # warm-up
        for b in xb[:3]:
            s.run(None, {"input": b})
    per = {k: [] for k in sessions}
    for _ in range(rounds):
        for k, s in sessions.items():
            n, i, t0 = 0, 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                s.run(None, {"input": xb[i % len(xb)]})
                n += batch
                i += 1
            per[k].append(n / (time.perf_counter() - t0))
    return {k: {"faces_per_s_median": statistics.median(v), "rounds": [round(f, 1) for f in v]} for k, v in per.items()}


def main(argv=None) -> int:
    import onnx

    from agegender_edge.predictor import default_model_path
    from agegender_edge.train.data.h5pack import read_h5

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--data", type=Path, default=Path("/work/data_cache/utk112.h5"))
    ap.add_argument("--calibration-count", type=int, default=512)
    ap.add_argument("--calibrate-method", default="minmax", choices=["minmax", "entropy", "percentile"])
    ap.add_argument("--variants", default="int8,int8_first_conv_fp32")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--limit", type=int, default=None, help="val faces to score (default: all)")
    ap.add_argument("--out", type=Path, default=HERE / "int8_cpu.json")
    ap.add_argument("--save-int8", type=Path, default=None, help="also write the first INT8 variant here")
    a = ap.parse_args(argv)

    model_path = a.model or default_model_path()
    model = onnx.load(str(model_path))
    meta = read_metadata(model, str(model_path))
    val = read_h5(a.data, split="val", limit=a.limit)
    x = _centre_crop_nchw(val.images, meta)
    t0 = time.perf_counter()
    cal = faces_from_h5(a.data, meta, "train", a.calibration_count)
    variants = {}
    for name in a.variants.split(","):
        opts = Int8Options(target="cpu", keep_first_conv_fp32=name.endswith("first_conv_fp32"),
                           calibrate_method=a.calibrate_method)
        q = quantize_int8(model, cal, opts)
        variants[name] = (q, opts)
        if a.save_int8 and len(variants) == 1:
            onnx.save(q, str(a.save_int8))
    quant_s = time.perf_counter() - t0
    sessions = {"fp32": session(model.SerializeToString(), a.threads)}
    sessions.update({k: session(q.SerializeToString(), a.threads) for k, (q, _) in variants.items()})
    acc = {k: metrics(predict(s, x, a.batch), val) for k, s in sessions.items()}
    speed = throughput(sessions, x, a.batch, a.rounds, a.seconds)
    base = acc["fp32"]
    result = {
        "model": str(model_path.name), "model_name": meta.name, "model_weights_sha256": meta.weights_sha256,
        "data": str(a.data.name), "val_faces": int(len(x)), "calibration": {"split": "train", "faces": len(cal),
                                                                           "method": a.calibrate_method},
        "quantization_seconds": round(quant_s, 1),
        "variants": {k: o.describe() for k, (_, o) in variants.items()},
        "accuracy": acc, "speed": speed,
        "delta_vs_fp32": {k: {"speedup": round(speed[k]["faces_per_s_median"] / speed["fp32"]["faces_per_s_median"], 3),
                              "gender_pts": round(100 * (acc[k]["gender_accuracy"] - base["gender_accuracy"]), 2),
                              "age_group_pts": round(100 * (acc[k]["age_group_accuracy"] - base["age_group_accuracy"]), 2),
                              "one_off_pts": round(100 * (acc[k]["one_off_accuracy"] - base["one_off_accuracy"]), 2),
                              "mae_years": round(acc[k]["age_mae"] - base["age_mae"], 3)}
                          for k in variants},
        "environment": {"cpu": cpu_info(), "python": platform.python_version(),
                        "onnxruntime": __import__("onnxruntime").__version__, "onnx": onnx.__version__,
                        "numpy": np.__version__, "threads": a.threads, "batch": a.batch,
                        "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
                        "load1_before": os.getloadavg()[0]},
    }
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    md = [f"# INT8 vs FP32 on ONNX Runtime CPU ({result['model']})", "",
          f"UTKFace val, n={len(x)}; calibration {len(cal)} train faces ({a.calibrate_method}); "
          f"ONNX Runtime {result['environment']['onnxruntime']}, {a.threads} threads, batch {a.batch}; "
          f"CPU: {result['environment']['cpu'].get('model', '?')} ({', '.join(result['environment']['cpu'].get('isa', []))}).",
          f"Speed: median of {a.rounds} interleaved rounds of {a.seconds:g} s each, same run "
          f"(1-min load average before the run: {result['environment']['load1_before']:.1f} on "
          f"{result['environment']['cpu'].get('logical_cpus')} CPUs: absolute faces/s depend on other load, "
          f"the ratio is the result).", "",
          "| model | faces/s | speed-up | gender | 8-group | 1-off | MAE (y) |", "|---|---|---|---|---|---|---|"]
    for k in sessions:
        sp, ac = speed[k]["faces_per_s_median"], acc[k]
        up = sp / speed["fp32"]["faces_per_s_median"]
        md.append(f"| {k} | {sp:.0f} | {up:.2f}x | {ac['gender_accuracy']:.4f} | {ac['age_group_accuracy']:.4f} | "
                  f"{ac['one_off_accuracy']:.4f} | {ac['age_mae']:.2f} |")
    md += ["", "Change vs FP32 (accuracy in percentage points):", ""]
    for k, d in result["delta_vs_fp32"].items():
        md.append(f"- {k}: {d['speedup']:.2f}x faces/s, gender {d['gender_pts']:+.2f} pt, 8-group {d['age_group_pts']:+.2f} pt, "
                  f"1-off {d['one_off_pts']:+.2f} pt, MAE {d['mae_years']:+.3f} y ({result['variants'][k]['activations']} "
                  f"activations, first conv {'FP32' if result['variants'][k]['first_conv_fp32'] else 'INT8'})")
    a.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
