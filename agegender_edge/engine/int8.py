"""INT8 static quantisation to a QDQ ONNX (ONNX Runtime's quantize_static), two flavours:

- ``target="cpu"``: ONNX Runtime on CPU. Per-channel symmetric s8 weights, asymmetric u8
  activations (the U8S8 kernels of x86 VNNI/AVX2 and ARM dot-product).
- ``target="tensorrt"``: explicit quantisation for TensorRT (the only INT8 path in TensorRT 11,
  and also accepted by 8.5-10.x): s8 weights AND s8 activations, both symmetric (zero point 0),
  which is what TensorRT's Q/DQ fusion requires.

Only the backbone is quantised (graph.py): the post-processing (softmaxes, the bin->group and
expected-age MatMuls, the variance) stays FP32 in both flavours, and the first Conv (raw-pixel
statistics, 3 input channels: little speed to gain) is kept FP32 by default (measured).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..metadata import ModelMetadata
from .calibration import ArrayCalibrationReader
from .graph import ensure_node_names, partition
from .onnx_meta import read_metadata, write_metadata

TARGETS = ("cpu", "tensorrt")
QUANT_OPS = ["Conv", "Gemm", "Add", "AveragePool", "GlobalAveragePool", "MaxPool", "Relu", "Flatten",
             "Concat", "Slice"]


@dataclass
class Int8Options:
    target: str = "cpu"
    per_channel: bool = True
    # default from benchmarks/int8_cpu.md: first Conv FP32 costs ~4% speed and keeps the 8-group
    # accuracy at FP32 level (all-INT8: -0.38 pt)
    keep_first_conv_fp32: bool = True
    calibrate_method: str = "minmax"        # "minmax" | "entropy" | "percentile"
    batch_size: int = 32
    extra_excludes: list[str] = field(default_factory=list)

    def describe(self) -> dict:
        act = "s8 symmetric" if self.target == "tensorrt" else "u8 asymmetric"
        return {"format": "QDQ", "target": self.target, "weights": "s8 symmetric per-channel" if self.per_channel
                else "s8 symmetric per-tensor", "activations": act, "calibration": self.calibrate_method,
                "first_conv_fp32": self.keep_first_conv_fp32, "postprocess": "fp32"}


def excluded_nodes(model, opts: Int8Options) -> list[str]:
    part = partition(model)
    excl = list(part.preprocess) + list(part.postprocess)
    if opts.keep_first_conv_fp32:
        excl.append(part.first_conv)
    return excl + list(opts.extra_excludes)


def quantize_int8(model, calibration: np.ndarray, opts: Int8Options = Int8Options(),
                  metadata: Optional[ModelMetadata] = None):
    """FP32 ModelProto + calibration faces (float32 NCHW 0-255) -> INT8 QDQ ModelProto."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if opts.target not in TARGETS:
        raise ValueError(f"INT8 target must be one of {TARGETS}, not {opts.target!r}")
    meta = metadata or read_metadata(model)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    ensure_node_names(m.graph)
    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    symmetric_act = opts.target == "tensorrt"
    extra = {"WeightSymmetric": True, "ActivationSymmetric": symmetric_act,
             # keep Q/DQ pairs per consumer so TensorRT can fuse each one
             "DedicatedQDQPair": symmetric_act}
    with tempfile.TemporaryDirectory(prefix="agegender-int8-") as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(m, str(src))
        quantize_static(
            str(src), str(dst), ArrayCalibrationReader(calibration, meta.input.name, opts.batch_size),
            quant_format=QuantFormat.QDQ, op_types_to_quantize=QUANT_OPS, per_channel=opts.per_channel,
            activation_type=QuantType.QInt8 if symmetric_act else QuantType.QUInt8,
            weight_type=QuantType.QInt8, nodes_to_exclude=excluded_nodes(m, opts),
            calibrate_method=methods[opts.calibrate_method], extra_options=extra,
        )
        q = onnx.load(str(dst))
    training = dict(meta.training)
    training["quantization"] = {**opts.describe(), "calibration_faces": int(len(calibration))}
    write_metadata(q, meta.replace(precision="int8", training=training))
    onnx.checker.check_model(q)
    return q


def quantize_file(src: Path, dst: Path, calibration: np.ndarray, opts: Int8Options = Int8Options(),
                  metadata: Optional[ModelMetadata] = None) -> Path:
    """``metadata``: what to write into the INT8 file (default: the source's), precision set to int8."""
    import onnx

    q = quantize_int8(onnx.load(str(src)), calibration, opts, metadata)
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(q, str(dst))
    return Path(dst)
