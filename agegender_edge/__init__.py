"""agegender-edge: age group, age and gender from face photos, on edge devices.

``import agegender_edge`` is light: it loads numpy, OpenCV and ONNX Runtime only when a
``Predictor`` is used, and never torch or tensorrt.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ._version import __version__
from .errors import (AgeGenderError, BackendUnavailableError, BatchTooLargeError, ImageTooLargeError,
                     InvalidImageError, MissingDependencyError, ModelError, ModelFormatError, ModelIntegrityError,
                     OutputPathError, ResourceLimitError)

if TYPE_CHECKING:  # pragma: no cover
    from .metadata import ModelMetadata
    from .predictor import Predictor
    from .results import BoundingBox, FaceResult, ImageResult

_LAZY = {
    "Predictor": ".predictor",
    "FaceResult": ".results",
    "ImageResult": ".results",
    "BoundingBox": ".results",
    "ModelMetadata": ".metadata",
}

__all__ = ["__version__", "Predictor", "FaceResult", "ImageResult", "BoundingBox", "ModelMetadata",
           "AgeGenderError", "InvalidImageError", "ImageTooLargeError", "ModelError", "ModelFormatError",
           "ModelIntegrityError", "BackendUnavailableError", "MissingDependencyError", "ResourceLimitError",
           "BatchTooLargeError", "OutputPathError"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        module = importlib.import_module(_LAZY[name], __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'agegender_edge' has no attribute {name!r}")
