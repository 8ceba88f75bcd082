"""Results as HTTP answers: the JSON of ``agegender-edge predict --format json`` for each image
(``cli.predict.round_floats`` over ``ImageResult.to_dict``, the one serialisation), plus the
model and SDK version; per-image errors with the HTTP status a single-image request gets."""
from __future__ import annotations

import dataclasses
import json
from typing import Optional

from .._version import __version__
from ..cli.predict import round_floats
from ..results import ImageResult


def rename_result(result: ImageResult, index: int, name: str) -> ImageResult:
    """An in-memory image's result under its upload's name: the SDK calls it ``<bytes N>``
    (N: its position in the Predictor call), which means nothing to an HTTP client."""
    placeholder = f"<bytes {index}>"
    error = result.error
    if error is not None and error.startswith(placeholder):
        error = name + error[len(placeholder):]
    return dataclasses.replace(result, source=name, error=error)


def result_dict(result: ImageResult, model: dict) -> dict:
    """One image as ``predict --format json`` writes it, with the model and SDK version."""
    out = round_floats(result.to_dict())
    out["model"] = {"name": model.get("name"), "file": model.get("file")}
    out["sdk_version"] = __version__
    return out


def image_status(result: ImageResult) -> int:
    """The HTTP status of a single-image request: 200, 413 (over the pixel limit: a
    decompression bomb, refused from its header) or 422 (not a usable image)."""
    if result.ok:
        return 200
    return 413 if result.error_type == "ImageTooLargeError" else 422


def dumps(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


def error_dict(status: int, message: str, error_type: str, source: Optional[str] = None) -> dict:
    """The body of every error answer: ``error`` names the problem in one line."""
    out = {"error": message, "error_type": error_type, "status": status}
    if source is not None:
        out["source"] = source
    return out


def annotated_jpeg(data: bytes, result: ImageResult, max_pixels: Optional[int]) -> bytes:
    """The image with its faces boxed and labelled (annotate.draw_faces), as JPEG bytes."""
    import cv2

    from ..annotate import draw_faces
    from ..imageio import DEFAULT_MAX_PIXELS, load_image

    bgr = load_image(data, None, max_pixels or DEFAULT_MAX_PIXELS).bgr
    ok, buf = cv2.imencode(".jpg", draw_faces(bgr, result), [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise RuntimeError("OpenCV could not encode the annotated image")
    return buf.tobytes()
