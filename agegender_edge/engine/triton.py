"""A Triton Inference Server model repository for the exported network.

    agegender-edge export --onnx m.onnx --format triton --out REPO [--recipe R] [--max-batch N]

writes::

    REPO/<name>/config.pbtxt            platform onnxruntime_onnx (Triton runs it on GPU or CPU)
    REPO/<name>/1/model.onnx
    REPO/<name>/<labels>.txt            gender / age-group labels (Triton's classification extension)
    REPO/<name>_tensorrt/config.pbtxt   platform tensorrt_plan, KIND_GPU
    REPO/<name>_tensorrt/build_plan.sh  writes 1/model.plan with trtexec on the serving GPU
    REPO/<name>_tensorrt/1/             (model.plan goes here: plans are specific to a GPU and a
                                         TensorRT version, so they are built where Triton runs)

Both configs name every input and output as the ONNX does, enable dynamic batching up to the
TensorRT profile's max batch, and carry the model metadata as ``parameters`` (the whole JSON
under ``agegender_edge``, plus the preprocessing keys a client needs on their own). Clients send
raw RGB/BGR pixels of the 96x96 crop as float32 NCHW (normalisation is inside the graph, as for
DeepStream): the crop rule and colour order are in the parameters.

The text format is written here (no Triton dependency at run time); the tests parse it with
``tritonclient``'s ``model_config_pb2.ModelConfig``.
"""
from __future__ import annotations

import json
import shutil
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

from ..metadata import ModelMetadata
from .profile import BatchProfile
from .recipes import Recipe
from .trtexec import trtexec_command

VERSION = "1"
DEFAULT_RECIPE = "trt11-fp16-strongly-typed"   # strongly typed FP16: TensorRT 9.1-11.x (Triton 24.xx+ ship 10.x)
PREFERRED_BATCH_SIZES = (8, 16, 32)
MAX_QUEUE_DELAY_US = 500


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dims: tuple[int, ...]      # without the batch dimension; () for one value per face
    label_file: Optional[str] = None


def pbtxt_string(s: str) -> str:
    """A protobuf text-format string literal."""
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)       # UTF-8 text is valid in text format
    out.append('"')
    return "".join(out)


def _tensor_block(t: TensorSpec) -> str:
    # Triton's dims exclude the batch dimension; a per-face scalar is dims [1] reshaped to []
    dims = t.dims or (1,)
    lines = [f"    name: {pbtxt_string(t.name)}", "    data_type: TYPE_FP32",
             f"    dims: [ {', '.join(str(d) for d in dims)} ]"]
    if not t.dims:
        lines.append("    reshape: { shape: [ ] }")
    if t.label_file:
        lines.append(f"    label_filename: {pbtxt_string(t.label_file)}")
    return "  {\n" + "\n".join(lines) + "\n  }"


def metadata_parameters(meta: ModelMetadata) -> dict[str, str]:
    d = meta.to_dict()
    params = {"agegender_edge": json.dumps(d, sort_keys=True, separators=(",", ":"))}
    inp = d.get("input", {})
    for key in ("colour_order", "size", "mean", "std", "layout", "value_range", "normalize_in_graph"):
        if key in inp:
            params[f"input_{key}"] = json.dumps(inp[key]) if not isinstance(inp[key], str) else inp[key]
    for key in ("name", "architecture", "age_estimate", "flip_tta", "precision", "format_version", "weights_sha256"):
        if key in d:
            params[key] = d[key] if isinstance(d[key], str) else json.dumps(d[key])
    if "crop" in d:
        params["crop"] = json.dumps(d["crop"], sort_keys=True)
    return params


def model_config(name: str, platform: str, meta: ModelMetadata, inputs: list[TensorSpec], outputs: list[TensorSpec],
                 max_batch: int, gpu_only: bool) -> str:
    preferred = [b for b in PREFERRED_BATCH_SIZES if b <= max_batch] or [max_batch]
    parts = [f"name: {pbtxt_string(name)}", f"platform: {pbtxt_string(platform)}", f"max_batch_size: {max_batch}",
             "input [\n" + ",\n".join(_tensor_block(t) for t in inputs) + "\n]",
             "output [\n" + ",\n".join(_tensor_block(t) for t in outputs) + "\n]",
             "dynamic_batching {\n"
             f"  preferred_batch_size: [ {', '.join(str(b) for b in preferred)} ]\n"
             f"  max_queue_delay_microseconds: {MAX_QUEUE_DELAY_US}\n}}",
             f"version_policy: {{ specific: {{ versions: [ {VERSION} ] }} }}"]
    if gpu_only:
        parts.append("instance_group [\n  {\n    count: 1\n    kind: KIND_GPU\n  }\n]")
    for key, value in metadata_parameters(meta).items():
        parts.append(f"parameters {{\n  key: {pbtxt_string(key)}\n  value: {{ string_value: {pbtxt_string(value)} }}\n}}")
    return "# Generated by agegender-edge export --format triton (docs: agegender_edge/engine/triton.py)\n" + \
        "\n".join(parts) + "\n"


def _specs(model, meta: ModelMetadata) -> tuple[list[TensorSpec], list[TensorSpec], dict[str, str]]:
    """Named I/O from the ONNX graph (dims after the batch axis) and the label files."""
    def dims(vi) -> tuple[int, ...]:
        ds = vi.type.tensor_type.shape.dim[1:]
        return tuple(int(d.dim_value) if d.dim_value > 0 else -1 for d in ds)

    labels = {"gender_probs": ("gender_labels.txt", list(meta.gender_labels)),
              "age_group_probs": ("age_group_labels.txt", list(meta.age_groups))}
    inputs = [TensorSpec(i.name, dims(i)) for i in model.graph.input]
    outputs = [TensorSpec(o.name, dims(o), labels[o.name][0] if o.name in labels else None) for o in model.graph.output]
    files = {fname: "\n".join(values) + "\n" for fname, values in labels.values()}
    return inputs, outputs, files


def write_repository(onnx_path: Path, out_dir: Path, meta: ModelMetadata, recipe: Recipe,
                     max_batch: Optional[int] = None, fp32_layers: tuple[str, ...] = ()) -> list[Path]:
    """Write the two model folders under ``out_dir``; returns the files written."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    inputs, outputs, label_files = _specs(model, meta)
    if max_batch is not None:
        p = recipe.profile
        recipe = replace(recipe, profile=BatchProfile(min(p.min, max_batch), min(p.opt, max_batch), max_batch))
    max_b = recipe.profile.max
    name = meta.name or Path(onnx_path).stem
    written: list[Path] = []

    def put(path: Path, text: str, executable: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if executable:
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        written.append(path)

    ort_dir, trt_dir = out_dir / name, out_dir / f"{name}_tensorrt"
    (ort_dir / VERSION).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(onnx_path, ort_dir / VERSION / "model.onnx")
    written.append(ort_dir / VERSION / "model.onnx")
    put(ort_dir / "config.pbtxt", model_config(name, "onnxruntime_onnx", meta, inputs, outputs, max_b, gpu_only=False))
    for folder in (ort_dir, trt_dir):
        for fname, text in label_files.items():
            put(folder / fname, text)

    (trt_dir / VERSION).mkdir(parents=True, exist_ok=True)
    put(trt_dir / "config.pbtxt", model_config(f"{name}_tensorrt", "tensorrt_plan", meta, inputs, outputs, max_b,
                                               gpu_only=True))
    source = f"../{name}/{VERSION}/model.onnx"
    prep, onnx_for_trt = "", source
    if recipe.onnx_variant == "fp16":
        onnx_for_trt = "model.fp16.onnx"
        prep = f"agegender-edge export --onnx {source} --format onnx-fp16 --out {onnx_for_trt}\n"
    elif recipe.onnx_variant == "int8-tensorrt":
        onnx_for_trt = "model.int8-trt.onnx"
        prep = (f"agegender-edge export --onnx {source} --format onnx-int8 --int8-target tensorrt "
                f"--calibration \"${{CALIBRATION:?set CALIBRATION=faces.h5}}\" --out {onnx_for_trt}\n")
    cmd = trtexec_command(recipe, meta, onnx_for_trt, f"{VERSION}/model.plan",
                          fp32_layers if recipe.precision_path == "builder-fp16" else ())
    put(trt_dir / "build_plan.sh",
        "#!/bin/sh\n"
        f"# Builds {VERSION}/model.plan on the GPU Triton serves from (a plan only runs on the GPU model and\n"
        f"# TensorRT version it was built with). Recipe {recipe.name}: {recipe.description}\n"
        f"# TensorRT {recipe.tensorrt}; precision path {recipe.precision_path}; batch {recipe.profile.as_dict()}\n"
        "set -e\ncd \"$(dirname \"$0\")\"\n" + prep + cmd + "\n", executable=True)
    return written
