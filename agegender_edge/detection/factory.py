"""``detector=`` argument -> a FaceDetector.

Accepted: None / "none" (whole image), "auto" (YuNet: the file shipped in the package, or the one
AGEGENDER_EDGE_YUNET names), "haar", "haar:PATH.xml", "yunet" (same file as auto),
"yunet:PATH.onnx", or a FaceDetector instance.
"""
from __future__ import annotations

import logging
from typing import Optional, Union

from .base import FaceDetector
from .haar import HaarDetector
from .whole_image import WholeImage
from .yunet import YUNET_ENV, YuNetDetector, yunet_path_from_env

log = logging.getLogger("agegender_edge")
DetectorSpec = Union[None, str, FaceDetector]


def create_detector(spec: DetectorSpec = "auto", **kwargs) -> FaceDetector:
    if isinstance(spec, FaceDetector):
        return spec
    if spec is None or spec == "none":
        return WholeImage()
    if not isinstance(spec, str):
        raise TypeError(f"detector must be None, a name or a FaceDetector, not {type(spec).__name__}")
    kind, _, path = spec.partition(":")
    kind = kind.lower()
    if kind in ("auto", "yunet") and not path:
        env = yunet_path_from_env()
        log.info("detector %s: YuNet from %s", kind, f"${YUNET_ENV} ({env})" if env else "the package")
        det: FaceDetector = YuNetDetector(**kwargs)
    elif kind == "haar":
        det = HaarDetector(cascade_path=path or None, **kwargs)
    elif kind == "yunet":
        det = YuNetDetector(model_path=path or None, **kwargs)
    else:
        raise ValueError(f"unknown detector {spec!r}; use 'auto', 'haar[:PATH]', 'yunet[:PATH]' or None")
    log.info("face detector: %s", det.describe())
    return det
