"""Models shipped inside the package (no downloads), addressable by name.

``Predictor(model="edge_resnet_utkface_int8")`` and ``--model edge_resnet_utkface_int8`` pick a
shipped file; anything else is treated as a path. Which names exist is decided by the files in
``weights/`` (see MODEL_CARD.md for what each one is and how it was measured).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Union

from .errors import ModelError

WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_MODEL = "edge_resnet_utkface"
MODEL_ENV = "AGEGENDER_EDGE_MODEL"


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
