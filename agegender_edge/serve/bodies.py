"""Request bodies: read under a size limit while they stream in (a declared Content-Length over
the limit is refused before reading anything), within a deadline (slow clients), and split into
images — a raw image body, or the parts of a multipart/form-data body, parsed in memory (images
are never written to disk). Every refusal is an HTTPProblem: a 4xx with a one-line message."""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Optional

RAW_TYPES = ("image/", "application/octet-stream")
MULTIPART = "multipart/form-data"
MAX_NAME_CHARS = 200


class HTTPProblem(Exception):
    """An HTTP error answer: status, one-line message, a short error_type, extra headers."""

    def __init__(self, status: int, message: str, error_type: str, headers: Optional[dict] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.headers = headers or {}


@dataclass(frozen=True)
class Upload:
    name: str       # a label for the answer only (never opened as a path)
    data: bytes


def mb(n: int) -> str:
    return f"{n / (1024 * 1024):.3g} MB"


async def read_body(request, limit: int, timeout_s: float) -> bytes:
    """The whole body, at most ``limit`` bytes (413 as soon as it is exceeded, never buffered
    further), within ``timeout_s`` (408)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise HTTPProblem(400, f"Content-Length {declared!r} is not a number", "BadRequest") from None
        if size > limit:
            raise HTTPProblem(413, f"request body of {mb(size)} is over the limit of {mb(limit)} (--max-body-mb)",
                              "PayloadTooLarge")

    async def collect() -> bytes:
        chunks, total = [], 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise HTTPProblem(413, f"request body is over the limit of {mb(limit)} (--max-body-mb); "
                                       f"stopped reading at {mb(total)}", "PayloadTooLarge")
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(collect(), timeout_s)
    except asyncio.TimeoutError:
        raise HTTPProblem(408, f"the request body did not arrive within {timeout_s:g} s (slow client)",
                          "RequestTimeout", {"Connection": "close"}) from None


def media_type(request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def is_multipart(request) -> bool:
    return media_type(request) == MULTIPART


def check_raw_type(request) -> None:
    """A raw image body: image/*, application/octet-stream, or no Content-Type at all."""
    kind = media_type(request)
    if kind and not kind.startswith(RAW_TYPES):
        raise HTTPProblem(415, f"Content-Type {kind} is not accepted: send the image bytes as image/* or "
                               f"application/octet-stream (curl: --data-binary @photo.jpg -H 'Content-Type: "
                               f"image/jpeg'), or as multipart/form-data (curl: -F image=@photo.jpg)",
                          "UnsupportedMediaType")


def check_multipart_type(request) -> None:
    kind = media_type(request)
    if kind != MULTIPART:
        raise HTTPProblem(415, f"Content-Type {kind or '(none)'} is not accepted here: send the images as "
                               f"multipart/form-data, one file part each (curl: -F image=@a.jpg -F image=@b.jpg)",
                          "UnsupportedMediaType")


def safe_name(name: str, fallback: str) -> str:
    """An uploaded file name as a label: its last path component, printable, bounded."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(c for c in base if c.isprintable())[:MAX_NAME_CHARS].strip()
    return base or fallback


def parse_multipart(body: bytes, content_type: str, max_parts: int) -> list[Upload]:
    """The parts of a multipart/form-data body, each one image (file parts and plain fields alike:
    a field that is not an image gets that image's error), in order; in memory only."""
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise HTTPProblem(400, "multipart/form-data body without a boundary parameter in its Content-Type",
                          "BadRequest")
    parts: list[dict] = []
    header = {"field": b"", "value": b""}

    def on_part_begin():
        if len(parts) >= max_parts:
            raise HTTPProblem(413, f"more than {max_parts} images in one request (--max-batch-images)",
                              "TooManyImages")
        parts.append({"headers": {}, "data": []})

    def on_header_field(data, start, end):
        header["field"] += data[start:end]

    def on_header_value(data, start, end):
        header["value"] += data[start:end]

    def on_header_end():
        parts[-1]["headers"][header["field"].decode("latin-1").lower()] = header["value"]
        header["field"] = header["value"] = b""

    def on_part_data(data, start, end):
        parts[-1]["data"].append(data[start:end])

    parser = MultipartParser(boundary, {"on_part_begin": on_part_begin, "on_header_field": on_header_field,
                                        "on_header_value": on_header_value, "on_header_end": on_header_end,
                                        "on_part_data": on_part_data})
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise HTTPProblem(400, f"malformed multipart/form-data body ({exc})", "BadRequest") from None
    if parser.state != MultipartState.END:
        raise HTTPProblem(400, "multipart/form-data body is cut short (no closing boundary)", "BadRequest")
    uploads = []
    for k, part in enumerate(parts):
        _, disp = parse_options_header(part["headers"].get("content-disposition", b""))
        label = (disp.get(b"filename") or disp.get(b"name") or b"").decode("utf-8", "replace")
        uploads.append(Upload(safe_name(label, f"part {k + 1}"), b"".join(part["data"])))
    return uploads
