"""Measured FP32 peak of this machine (GFLOP/s), three ways, best of each:

  numpy SGEMM       np.matmul of two n x n float32 matrices (OpenBLAS), 2 n^3 FLOP
  ORT MatMul        the same GEMM as a one-node ONNX graph in ONNX Runtime (MLAS kernels)
  ORT Conv          a large 3x3 convolution (N=8, 256->256 channels, 56x56) in ONNX Runtime,
                    2 * N * Cout * H * W * Cin * 9 FLOP: the kernel family CNNs actually use

"Measured peak" = the best of the three. The theoretical peak (cores x GHz x 32 FP32 FLOP per
cycle for AVX-512 / 2x256-bit FMA on Zen 4) is printed alongside for reference.

    python benchmarks/peak.py [--seconds 3]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _best_rate(fn, flop: float, seconds: float) -> dict:
    fn()  # warm-up
    times = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds or len(times) < 3:
        a = time.perf_counter()
        fn()
        times.append(time.perf_counter() - a)
    times.sort()
    return {"gflops_best": flop / times[0] / 1e9, "gflops_median": flop / times[len(times) // 2] / 1e9,
            "calls": len(times)}


def numpy_sgemm(n: int = 4096, seconds: float = 3.0) -> dict:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    r = _best_rate(lambda: np.matmul(a, b, out=c), 2.0 * n ** 3, seconds)
    r.update(what=f"numpy SGEMM {n}x{n}x{n}")
    return r


def _ort_session(model, threads: int):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.add_session_config_entry("session.intra_op.allow_spinning", "1")
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def ort_matmul(n: int = 4096, threads: int = 0, seconds: float = 3.0) -> dict:
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((n, n), dtype=np.float32), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "mm",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, n])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])], [w])
    sess = _ort_session(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), threads)
    x = rng.standard_normal((n, n), dtype=np.float32)
    r = _best_rate(lambda: sess.run(None, {"x": x}), 2.0 * n ** 3, seconds)
    r.update(what=f"ONNX Runtime MatMul {n}x{n}x{n}")
    return r


def ort_conv(batch: int = 8, c: int = 256, hw: int = 56, threads: int = 0, seconds: float = 3.0) -> dict:
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((c, c, 3, 3), dtype=np.float32) * 0.01, "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    g = helper.make_graph([node], "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, c, hw, hw])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, c, hw, hw])], [w])
    sess = _ort_session(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), threads)
    x = rng.standard_normal((batch, c, hw, hw), dtype=np.float32)
    r = _best_rate(lambda: sess.run(None, {"x": x}), 2.0 * batch * c * hw * hw * c * 9, seconds)
    r.update(what=f"ONNX Runtime Conv 3x3 {c}->{c} {hw}x{hw} batch {batch}")
    return r


def measure_peak(seconds: float = 3.0, threads: int = 0, ghz: float = 3.2, flop_per_cycle: int = 32) -> dict:
    from agegender_edge.bench.env import usable_cpus
    runs = [numpy_sgemm(seconds=seconds), ort_matmul(threads=threads, seconds=seconds),
            ort_conv(threads=threads, seconds=seconds)]
    best = max(runs, key=lambda r: r["gflops_best"])
    cores = usable_cpus()
    return {"measured_peak_gflops": best["gflops_best"], "measured_by": best["what"], "runs": runs,
            "theoretical_gflops": cores * ghz * flop_per_cycle,
            "theoretical_basis": f"{cores} cores x {ghz} GHz x {flop_per_cycle} FP32 FLOP/cycle"}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    print(json.dumps(measure_peak(ap.parse_args().seconds), indent=2))
