"""Benchmark toolkit behind ``agegender-edge bench`` (and the scripts in benchmarks/).

Small modules, each usable on its own:
  stats     latency samples -> min / mean / median / p90 / p95 / p99 / throughput
  timing    warm-up (count or time) then N iterations or a duration, with a progress hook
  env       the environment recorded in every report (CPU, cores, threads, versions, GPU, load)
  inputs    real face inputs (a folder of chips or a prepared .h5) at the model's input size
  targets   what is timed: ONNX Runtime sessions, TensorRT engines, PyTorch eager (reference)
  model     model-only latency per target and batch size
  pipeline  whole pipeline on photos: per-stage split, streamed images/s, end to end (files in,
            results out) with the share of wall time the network was busy
  report    the report object, the text table, JSON and the PNG plot

Importing this package imports neither torch nor tensorrt; a target that needs them imports
them when it is built.
"""
