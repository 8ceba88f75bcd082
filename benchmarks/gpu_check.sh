#!/usr/bin/env bash
# GPU check for agegender-edge, in one go (prepared on a CPU-only machine; see docs/GPU.md).
#
#   benchmarks/gpu_check.sh [MODEL.onnx] [CHECKPOINT.pt]
#
# On a machine with a GPU and TensorRT: runs the GPU tests (real engine builds, FP16/FP32 vs
# ONNX Runtime on real faces, engine cache reuse, Predictor backend="tensorrt") and a latency
# table. With a GPU but no TensorRT it still measures what it can: ONNX Runtime CUDA / TensorRT
# EPs (onnxruntime-gpu) and the network in PyTorch FP32/FP16 on CUDA (needs a checkpoint).
# Prints a short summary; writes $OUT/gpu_check.json (or ./gpu_check.json) with everything.
# Budget: about 3-6 minutes on a data-centre GPU (engine builds dominate).
set -u
cd "$(dirname "$0")/.."
MODEL="${1:-${AGEGENDER_EDGE_MODEL:-agegender_edge/weights/edge_resnet_utkface.onnx}}"
CKPT="${2:-${AGEGENDER_EDGE_CHECKPOINT:-}}"
OUTDIR="${OUT:-.}"
mkdir -p "$OUTDIR"
export AGEGENDER_EDGE_TEST_MODEL="$MODEL"
PY="${PYTHON:-python3}"

echo "== environment"
(nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not available")
"$PY" - <<'PYEOF'
import importlib, importlib.util
for m in ("tensorrt", "onnxruntime", "torch", "cuda.bindings", "onnx"):
    try:
        mod = importlib.import_module(m)
        print(f"{m:14s} {getattr(mod, '__version__', 'present')}")
    except Exception as e:
        print(f"{m:14s} missing ({type(e).__name__})")
try:
    import onnxruntime as ort; print("ort providers ", ort.get_available_providers())
except Exception:
    pass
try:
    import torch; print("torch cuda    ", torch.cuda.is_available(), torch.version.cuda)
except Exception:
    pass
PYEOF

echo "== GPU tests (pytest: real TensorRT; then the CPU-side backend tests for context)"
LOG="$OUTDIR/gpu_tests.log"
"$PY" -m pytest -q -rs tests/backends/test_tensorrt_gpu.py > "$LOG" 2>&1
TEST_RC=$?
tail -15 "$LOG"
GPU_RAN=$(grep -Eo '[0-9]+ passed' "$LOG" | head -1 | grep -Eo '[0-9]+' || echo 0)
"$PY" -m pytest -q tests/backends/test_tensorrt_env.py tests/backends/test_tensorrt_standin.py \
    tests/backends/test_select_gpu_tiers.py 2>&1 | tail -2

echo "== latency"
MODEL="$MODEL" CKPT="$CKPT" OUTDIR="$OUTDIR" TEST_RC="$TEST_RC" GPU_RAN="$GPU_RAN" "$PY" - <<'PYEOF'
import json, os, statistics, sys, tempfile, time, traceback
from pathlib import Path
import numpy as np
sys.path.insert(0, os.getcwd())
from agegender_edge.metadata import OUTPUT_NAMES

model = Path(os.environ["MODEL"]); ckpt = os.environ.get("CKPT") or ""
batches = [1, 8, 32, 64]
rows, notes = [], []
x_all = np.random.default_rng(0).integers(0, 256, (64, 3, 96, 96)).astype(np.float32)

def bench(name, fn, warm=10, iters=50):
    for b in batches:
        x = x_all[:b]
        try:
            for _ in range(warm): fn(x)
            ts = []
            for _ in range(iters):
                t = time.perf_counter(); fn(x); ts.append(time.perf_counter() - t)
        except Exception as e:
            notes.append(f"{name} batch {b}: {type(e).__name__}: {str(e)[:200]}"); return
        med = statistics.median(ts)
        rows.append({"backend": name, "batch": b, "median_ms": med * 1e3, "p90_ms": sorted(ts)[int(0.9 * len(ts))] * 1e3,
                     "faces_per_s": b / med})

# ONNX Runtime CPU baseline (and the reference outputs)
import onnxruntime as ort
ref_sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
ref = dict(zip(OUTPUT_NAMES, ref_sess.run(list(OUTPUT_NAMES), {"input": x_all[:32]})))
bench("ort-cpu", lambda x: ref_sess.run(None, {"input": x}), warm=2, iters=10)
parity = {}

def check(name, out):
    parity[name] = {k: float(np.max(np.abs(np.asarray(out[k], np.float32).reshape(ref[k].shape) - ref[k]))) for k in OUTPUT_NAMES}

# TensorRT runner (our code), FP16 and FP32, via the engine cache
try:
    from agegender_edge.backends.tensorrt import TensorRTRunner
    cache = Path(tempfile.mkdtemp(prefix="agegender-trt-"))
    for prec in ("fp16", "fp32"):
        t = time.perf_counter()
        r = TensorRTRunner.from_onnx(model, cache_dir=cache, max_batch_size=64, precision=prec).activate()
        notes.append(f"tensorrt-{prec}: engine build+load {time.perf_counter() - t:.1f} s ({r.describe()})")
        check(f"tensorrt-{prec}", r.infer(x_all[:32]))
        bench(f"tensorrt-{prec}", r.infer)
        r.deactivate()
except Exception as e:
    notes.append(f"TensorRT runner: {type(e).__name__}: {str(e)[:300]}")

# ONNX Runtime GPU execution providers
prov = ort.get_available_providers()
for ep, opts in (("CUDAExecutionProvider", {}),
                 ("TensorrtExecutionProvider", {"trt_fp16_enable": True, "trt_engine_cache_enable": True,
                                                "trt_engine_cache_path": tempfile.mkdtemp(),
                                                "trt_profile_min_shapes": "input:1x3x96x96",
                                                "trt_profile_opt_shapes": "input:32x3x96x96",
                                                "trt_profile_max_shapes": "input:64x3x96x96"})):
    if ep not in prov:
        notes.append(f"ort {ep}: not available"); continue
    try:
        s = ort.InferenceSession(str(model), providers=[(ep, opts), "CPUExecutionProvider"])
        name = "ort-" + ep.replace("ExecutionProvider", "").lower()
        check(name, dict(zip(OUTPUT_NAMES, s.run(list(OUTPUT_NAMES), {"input": x_all[:32]}))))
        bench(name, lambda x, s=s: s.run(None, {"input": x}))
    except Exception as e:
        notes.append(f"ort {ep}: {type(e).__name__}: {str(e)[:200]}")

# PyTorch on CUDA (no TensorRT needed): the network from a checkpoint, FP32 and FP16
try:
    import torch
    if not torch.cuda.is_available():
        notes.append("torch: CUDA not available")
    elif not ckpt or not Path(ckpt).is_file():
        notes.append("torch: no checkpoint given (benchmarks/gpu_check.sh MODEL CHECKPOINT)")
    else:
        from agegender_edge.train.trainer import load_best
        from agegender_edge.train.postprocess import DeployModel
        from agegender_edge.engine.onnx_meta import read_metadata
        import onnx
        meta = read_metadata(onnx.load(str(model)))
        net, cfg = load_best(Path(ckpt))
        deploy = DeployModel(net.eval(), len(meta.age_bins), meta.input.mean, meta.input.std, flip_tta=meta.flip_tta).eval().cuda()
        for prec, dtype in (("fp32", torch.float32), ("fp16", torch.float16)):
            m = deploy.to(memory_format=torch.channels_last)
            def fn(x, m=m, dtype=dtype):
                with torch.no_grad(), torch.autocast("cuda", dtype=dtype, enabled=dtype != torch.float32):
                    out = m(torch.from_numpy(x).cuda().contiguous(memory_format=torch.channels_last))
                torch.cuda.synchronize(); return out
            out = fn(x_all[:32]); check(f"torch-cuda-{prec}", {k: o.float().cpu().numpy() for k, o in zip(OUTPUT_NAMES, out)})
            bench(f"torch-cuda-{prec}", fn)
except Exception as e:
    notes.append(f"torch: {type(e).__name__}: {str(e)[:200]}")

print(f"{'backend':22s} {'batch':>5s} {'median ms':>10s} {'p90 ms':>8s} {'faces/s':>9s}")
for r in rows:
    print(f"{r['backend']:22s} {r['batch']:5d} {r['median_ms']:10.3f} {r['p90_ms']:8.3f} {r['faces_per_s']:9.0f}")
print("max |diff| vs ONNX Runtime CPU FP32 (32 random-pixel inputs):")
for k, v in parity.items():
    print(f"  {k:22s} " + "  ".join(f"{n}={d:.2e}" for n, d in v.items()))
for n in notes:
    print("note:", n)
rc = int(os.environ.get("TEST_RC", "1")); ran = int(os.environ.get("GPU_RAN", "0") or 0)
summary = {"gpu_tests_rc": rc, "gpu_tests_passed": ran, "latency": rows, "parity_vs_ort_cpu": parity, "notes": notes}
Path(os.environ["OUTDIR"], "gpu_check.json").write_text(json.dumps(summary, indent=2))
best = {}
for r in rows:
    if r["batch"] == 32: best[r["backend"]] = r["faces_per_s"]
status = (f"FAILED (rc={rc})" if rc not in (0, 5) else f"{ran} PASSED" if ran else "all SKIPPED (no TensorRT or no GPU)")
print("== summary: TensorRT GPU tests " + status +
      "; batch-32 faces/s: " + ", ".join(f"{k} {v:.0f}" for k, v in best.items()))
PYEOF
