"""The HTTP routes. Bodies are read by hand (bodies.py) rather than through FastAPI's form
parsing, which would spool large uploads to temporary files and read them without a limit."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from .._version import __version__
from .batching import QueueFullError, ShuttingDownError
from .bodies import (HTTPProblem, Upload, check_multipart_type, check_raw_type, is_multipart, parse_multipart,
                     read_body)
from .payload import annotated_jpeg, dumps, image_status, result_dict

router = APIRouter()

JSON = "application/json"
_IMAGE_BODY = {
    "required": True,
    "content": {
        "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
        "image/png": {"schema": {"type": "string", "format": "binary"}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "image": {"type": "string", "format": "binary"}}, "required": ["image"]}},
    },
}
_BATCH_BODY = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
        "image": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}},
}
_FACE = {"type": "object", "properties": {
    "box": {"type": "object"}, "crop_box": {"type": "object"}, "detection_score": {"type": "number"},
    "age_group": {"type": "string"}, "age_group_probs": {"type": "object"}, "age": {"type": "number"},
    "age_std": {"type": "number"}, "age_interval_80": {"type": "array", "items": {"type": "number"}},
    "gender": {"type": "string"}, "gender_probability": {"type": "number"},
    "landmarks": {"type": "array", "nullable": True}}}
_RESULT = {"type": "object", "properties": {
    "source": {"type": "string"}, "faces": {"type": "array", "items": _FACE}, "width": {"type": "integer"},
    "height": {"type": "integer"}, "error": {"type": "string", "nullable": True},
    "error_type": {"type": "string", "nullable": True}, "model": {"type": "object"},
    "sdk_version": {"type": "string"}}}
_ERROR = {"description": "error (one-line message in `error`)", "content": {JSON: {"schema": {
    "type": "object", "properties": {"error": {"type": "string"}, "error_type": {"type": "string"},
                                     "status": {"type": "integer"}}}}}}
_ERRORS = {code: _ERROR for code in (400, 401, 408, 413, 415, 422, 503, 504)}


def _state(request: Request):
    return request.app.state


def _json(obj, status: int = 200) -> Response:
    return Response(dumps(obj), status_code=status, media_type=JSON)


async def _predict(request: Request, uploads: list[Upload]):
    state = _state(request)
    try:
        results = await asyncio.wait_for(state.engine.predict([(u.name, u.data) for u in uploads]),
                                         state.settings.request_timeout_s)
    except QueueFullError as exc:
        state.metrics.rejected.inc()
        raise HTTPProblem(503, f"the server is busy: {exc}; retry after {exc.retry_after_s} s", "QueueFull",
                          {"Retry-After": str(exc.retry_after_s)}) from None
    except ShuttingDownError as exc:
        raise HTTPProblem(503, str(exc), "ShuttingDown", {"Retry-After": "1"}) from None
    except asyncio.TimeoutError:
        raise HTTPProblem(504, f"the prediction did not finish within {state.settings.request_timeout_s:g} s "
                               f"(--request-timeout-s)", "Timeout") from None
    state.metrics.count_results(results)
    return results


@router.post("/v1/predict", summary="Faces, age and gender in one image", openapi_extra={"requestBody": _IMAGE_BODY},
             responses={200: {"description": "the image's result (as `predict --format json`), or with "
                                             "annotate=1 the annotated JPEG",
                              "content": {JSON: {"schema": _RESULT}, "image/jpeg": {}}}, **_ERRORS})
async def predict(request: Request, annotate: bool = Query(False, description="return the annotated JPEG")):
    """One image, as the raw body (image/*, application/octet-stream) or one multipart part."""
    settings = _state(request).settings
    if is_multipart(request):
        body = await read_body(request, settings.max_body_bytes, settings.body_timeout_s)
        uploads = parse_multipart(body, request.headers["content-type"], 2)
        if len(uploads) != 1:
            raise HTTPProblem(400, f"/v1/predict takes one image, got {len(uploads)} multipart parts; "
                                   f"send several to /v1/predict/batch", "BadRequest")
        upload = uploads[0]
    else:
        check_raw_type(request)
        body = await read_body(request, settings.max_body_bytes, settings.body_timeout_s)
        upload = Upload("upload", body)
    if not upload.data:
        raise HTTPProblem(400, "the request body is empty: send one image (JPEG, PNG, ...)", "EmptyBody")
    result = (await _predict(request, [upload]))[0]
    if annotate and result.ok:
        jpeg = await asyncio.to_thread(annotated_jpeg, upload.data, result, settings.predictor.max_pixels)
        return Response(jpeg, media_type="image/jpeg")
    return _json(result_dict(result, _state(request).engine.model_info), image_status(result))


@router.post("/v1/predict/batch", summary="Faces, age and gender in several images",
             openapi_extra={"requestBody": _BATCH_BODY},
             responses={200: {"description": "one result per part, in order; a bad image has `error` set and "
                                             "the others are unaffected",
                              "content": {JSON: {"schema": {"type": "array", "items": _RESULT}}}}, **_ERRORS})
async def predict_batch(request: Request):
    """Several images as multipart/form-data parts (any field name), answered in order."""
    settings = _state(request).settings
    check_multipart_type(request)
    body = await read_body(request, settings.max_body_bytes, settings.body_timeout_s)
    uploads = parse_multipart(body, request.headers["content-type"], settings.max_batch_images)
    if not uploads:
        raise HTTPProblem(400, "the multipart body has no parts: send one file part per image", "EmptyBody")
    results = await _predict(request, uploads)
    model = _state(request).engine.model_info
    return _json([result_dict(r, model) for r in results])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz():
    return _json({"status": "ok"})


@router.get("/readyz", summary="Readiness: the model is loaded and requests are taken",
            responses={503: {"description": "not ready (starting or shutting down)"}})
async def readyz(request: Request):
    state = _state(request)
    if state.engine.ready() and not state.shutting_down:
        return _json({"status": "ready"})
    return _json({"status": "shutting down" if state.shutting_down else "not ready"}, 503)


@router.get("/v1/model", summary="The model, detector, backend and server limits")
async def model(request: Request):
    state = _state(request)
    s = state.settings
    return _json({**state.engine.model_info, "sdk_version": __version__,
                  "limits": {"max_body_mb": s.max_body_mb, "max_batch_images": s.max_batch_images,
                             "max_batch_delay_ms": s.max_batch_delay_ms, "max_queue": s.max_queue,
                             "request_timeout_s": s.request_timeout_s, "max_pixels": s.predictor.max_pixels,
                             "max_faces": s.predictor.max_faces}})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request):
    body, content_type = _state(request).metrics.render()
    return Response(body, media_type=content_type)
