"""The trtexec command equivalent to a recipe (``agegender-edge export --print-trtexec``).

Same ONNX variant, precision path, profile, workspace, timing cache and DLA settings as the
Python builder (builder.py). ``--memPoolSize`` is given in MiB without a suffix, which every
trtexec from 8.5 accepts. For the weakly typed FP16 path the post-processing layers are pinned
to FP32 with ``--precisionConstraints=obey --layerPrecisions`` (layer names = ONNX node names,
as the ONNX parser names single-layer nodes; not verified on a GPU here).
"""
from __future__ import annotations

import shlex
from typing import Optional, Sequence

from ..metadata import ModelMetadata
from .recipes import Recipe


def onnx_filename(model_stem: str, recipe: Recipe) -> str:
    return {"fp32": f"{model_stem}.onnx", "fp16": f"{model_stem}.fp16.onnx",
            "int8-tensorrt": f"{model_stem}.int8-trt.onnx"}[recipe.onnx_variant]


def engine_filename(model_stem: str, recipe: Recipe) -> str:
    return f"{model_stem}.{recipe.name}.engine"


def trtexec_args(recipe: Recipe, meta: ModelMetadata, onnx_path: str, engine_path: str,
                 fp32_layers: Sequence[str] = (), calibration_cache: Optional[str] = None) -> list[str]:
    shapes = recipe.profile.trtexec_shapes(meta.input.name, meta.input.size)
    args = ["trtexec", f"--onnx={onnx_path}", f"--saveEngine={engine_path}",
            f"--minShapes={shapes['min']}", f"--optShapes={shapes['opt']}", f"--maxShapes={shapes['max']}",
            f"--memPoolSize=workspace:{recipe.workspace_mib}", f"--timingCacheFile={recipe.timing_cache}"]
    path = recipe.precision_path
    if path == "builder-fp16":
        args.append("--fp16")
        if fp32_layers:
            args += ["--precisionConstraints=obey",
                     "--layerPrecisions=" + ",".join(f"{name}:fp32" for name in fp32_layers)]
    elif path == "int8-calibrated":
        args += ["--int8", "--fp16"]
        if calibration_cache:
            args.append(f"--calib={calibration_cache}")
    elif path in ("strongly-typed-fp16", "int8-qdq"):
        args.append("--stronglyTyped")   # required on 9.1-10.x, a no-op on 11.x
    if recipe.builder_optimization_level is not None:
        args.append(f"--builderOptimizationLevel={recipe.builder_optimization_level}")
    if recipe.dla_core is not None:
        args.append(f"--useDLACore={recipe.dla_core}")
        if recipe.gpu_fallback:
            args.append("--allowGPUFallback")
    return args


def trtexec_command(recipe: Recipe, meta: ModelMetadata, onnx_path: str, engine_path: str,
                    fp32_layers: Sequence[str] = (), calibration_cache: Optional[str] = None,
                    multiline: bool = True) -> str:
    args = trtexec_args(recipe, meta, onnx_path, engine_path, fp32_layers, calibration_cache)
    quoted = [shlex.quote(a) for a in args]
    return (" \\\n    ".join(quoted) if multiline else " ".join(quoted))
