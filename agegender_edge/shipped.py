"""Models shipped inside the package (no downloads), addressable by name.

``Predictor(model="edge_resnet_utkface_int8")`` and ``--model edge_resnet_utkface_int8`` pick a
shipped file; anything else is treated as a path. Which names exist is decided by the files in
``weights/`` (see MODEL_CARD.md for what each one is and how it was measured).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Union

from .errors import ModelError

log = logging.getLogger("agegender_edge")

WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_MODEL = "dlib_resnet_aligned"
MODEL_ENV = "AGEGENDER_EDGE_MODEL"
# The CPU file of a shipped model: the same graph in static INT8 (~3x the faces/s on CPUs, same
# accuracy within MODEL_CARD.md's figures). GPU backends take the FP32 file (TensorRT builds FP16
# from it; INT8 QDQ nodes would pin the TensorRT EP / engine to INT8 kernels instead).
CPU_VARIANT_SUFFIX = "_int8"


def shipped_models() -> list[str]:
    """Names of the models in this installation, default first."""
    names = sorted(p.stem for p in WEIGHTS_DIR.glob("*.onnx"))
    return sorted(names, key=lambda n: n != DEFAULT_MODEL)


def default_model_path() -> Path:
    """The default shipped model, or $AGEGENDER_EDGE_MODEL (a path or a shipped name)."""
    env = os.environ.get(MODEL_ENV)
    return resolve_model(env) if env else WEIGHTS_DIR / f"{DEFAULT_MODEL}.onnx"


def resolve_model(model: Union[str, Path, None]) -> Path:
    """None -> the default; a shipped model's name -> its file; anything else -> a path as given.

    A name wins only when no file of that name exists in the working directory, so a local file
    called e.g. ``edge_resnet_utkface`` is never shadowed."""
    if model is None:
        return default_model_path()
    path = Path(model)
    name = str(model)
    if not path.exists() and path.name == name and not path.suffix:
        candidate = WEIGHTS_DIR / f"{name}.onnx"
        if candidate.is_file():
            return candidate
        raise ModelError(f"{name!r} is neither a file nor a shipped model "
                         f"(shipped: {', '.join(shipped_models()) or 'none'})")
    return path


def uses_builtin_default(model: Union[str, Path, None]) -> bool:
    """True when ``model`` leaves the choice to the SDK: no model given and no $AGEGENDER_EDGE_MODEL.
    Only then may the runtime pick the file that suits the backend (``default_for_backend``); a
    name or path given by the caller (or the environment) is always run as given."""
    return model is None and not os.environ.get(MODEL_ENV)


def default_for_backend(fp32_path: Path, on_gpu: bool) -> Path:
    """The built-in default's file for the backend that will run it: the INT8 file on ONNX
    Runtime CPU, the FP32 file on GPUs. Logged (INFO) either way; when the INT8 file is missing
    from the installation the FP32 file runs and the log says so."""
    fp32_path = Path(fp32_path)
    if on_gpu:
        log.info("model: default %s, FP32 file for the GPU backend (override with model=... or $%s)",
                 fp32_path.stem, MODEL_ENV)
        return fp32_path
    int8 = fp32_path.with_name(f"{fp32_path.stem}{CPU_VARIANT_SUFFIX}{fp32_path.suffix}")
    if int8.is_file():
        log.info("model: default %s on ONNX Runtime CPU -> INT8 file %s (override with model=%r or $%s)",
                 fp32_path.stem, int8.name, fp32_path.stem, MODEL_ENV)
        return int8
    log.info("model: default %s on ONNX Runtime CPU: no %s in this installation, running the FP32 file",
             fp32_path.stem, int8.name)
    return fp32_path
