#!/usr/bin/env python3
"""ONNX Runtime (CPU) latency on the same faces and batch sizes as agegender_edge_bench, for the
OpenCV DNN vs ONNX Runtime comparison in docs/CPP.md: bench_onnxruntime.py MODEL FACES_DIR [ITERS] [THREADS]"""
import glob
import sys
import time

import numpy as np


def main() -> None:
    from agegender_edge.backends.onnxruntime import OnnxRuntimeRunner, OrtOptions
    from agegender_edge.imageio import DEFAULT_MAX_PIXELS, load_image
    from agegender_edge.preprocess import InputBatch, chip_to_input

    model, faces_dir = sys.argv[1], sys.argv[2]
    iters = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    options = OrtOptions(intra_op_threads=threads, allow_spinning=threads == 0)
    with OnnxRuntimeRunner(model, options=options) as runner:
        meta = runner.metadata
        files = sorted(glob.glob(f"{faces_dir}/*.jpg"))
        batch = InputBatch(meta, 32)
        for i in range(32):
            batch.add(chip_to_input(load_image(files[i % len(files)], None, DEFAULT_MAX_PIXELS).bgr, meta))
        import onnxruntime
        print(f"model {meta.name}, onnxruntime {onnxruntime.__version__} [CPU], {iters} iterations, threads {threads}")
        for n in (1, 32):
            x = np.ascontiguousarray(batch.array[:n])
            for _ in range(5):
                runner.infer(x)
            ms = []
            for _ in range(iters):
                t0 = time.perf_counter()
                runner.infer(x)
                ms.append((time.perf_counter() - t0) * 1e3)
            ms.sort()
            print(f"batch {n:2d}: median {ms[len(ms) // 2]:.2f} ms, p90 {ms[len(ms) * 9 // 10]:.2f} ms "
                  f"({ms[len(ms) // 2] / n:.3f} ms/face)")


if __name__ == "__main__":
    main()
