"""Bad input over HTTP: each gets a clear 4xx JSON answer naming the problem, and the server goes on."""
from __future__ import annotations

import json
import select
import socket
import struct
import time
import zlib

import pytest


def _error(r, status: int, error_type: str) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["error_type"] == error_type, body
    return body["error"]


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header claiming 10 gigapixels, in ~200 bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 65536)) + chunk(b"IEND", b"")


def test_not_an_image(client):
    msg = _error(client.post("/v1/predict", content=b"hello, world\n", headers={"Content-Type": "image/jpeg"}),
                 422, "InvalidImageError")
    assert msg.startswith("upload: not a supported image format")


def test_truncated_jpeg(client, photos):
    msg = _error(client.post("/v1/predict", content=photos[0].read_bytes()[:2000],
                             headers={"Content-Type": "image/jpeg"}), 422, "InvalidImageError")
    assert "truncated JPEG" in msg


def test_empty_body(client):
    assert "body is empty" in _error(client.post("/v1/predict", content=b"", headers={"Content-Type": "image/jpeg"}),
                                     400, "EmptyBody")


def test_decompression_bomb_is_refused_from_its_header(client):
    bomb = png_bomb()
    assert len(bomb) < 1000
    msg = _error(client.post("/v1/predict", content=bomb, headers={"Content-Type": "image/png"}),
                 413, "ImageTooLargeError")
    assert "100000x100000" in msg and "refused before decoding" in msg
    batch = client.post("/v1/predict/batch", files=[("image", ("bomb.png", bomb, "image/png"))]).json()
    assert batch[0]["error_type"] == "ImageTooLargeError"


def test_wrong_content_types(client, photos):
    msg = _error(client.post("/v1/predict", content=b'{"path": "/etc/passwd"}',
                             headers={"Content-Type": "application/json"}), 415, "UnsupportedMediaType")
    assert "application/json is not accepted" in msg
    _error(client.post("/v1/predict", content=photos[0].read_bytes(),
                       headers={"Content-Type": "application/x-www-form-urlencoded"}), 415, "UnsupportedMediaType")
    msg = _error(client.post("/v1/predict/batch", content=photos[0].read_bytes(), headers={"Content-Type": "image/jpeg"}),
                 415, "UnsupportedMediaType")
    assert "multipart/form-data" in msg


def test_no_file_paths_over_http(client, photos):
    """A path is only ever bytes (not an image) or a label: nothing is read from the server's disk."""
    msg = _error(client.post("/v1/predict", content=str(photos[0]).encode(),
                             headers={"Content-Type": "application/octet-stream"}), 422, "InvalidImageError")
    assert "not a supported image format" in msg
    r = client.post("/v1/predict/batch", files=[("image", ("../../../../etc/passwd", b"", "image/jpeg")),
                                                ("image", (str(photos[0]), b"not the file", "image/jpeg"))])
    got = r.json()
    assert [g["source"] for g in got] == ["passwd", photos[0].name]   # base names, as labels only
    assert got[0]["error"] == "passwd: file is empty (0 bytes)"
    assert "not a supported image format" in got[1]["error"]


def test_multipart_problems(client, photos):
    two = [("image", ("a.jpg", photos[0].read_bytes(), "image/jpeg")),
           ("image", ("b.jpg", photos[1].read_bytes(), "image/jpeg"))]
    assert "/v1/predict/batch" in _error(client.post("/v1/predict", files=two), 400, "BadRequest")
    too_many = [("image", (f"{k}.jpg", b"x", "image/jpeg")) for k in range(9)]
    assert "more than 8 images" in _error(client.post("/v1/predict/batch", files=too_many), 413, "TooManyImages")
    cut = b"--xyz\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n\r\nabc"
    _error(client.post("/v1/predict/batch", content=cut, headers={"Content-Type": "multipart/form-data; boundary=xyz"}),
           400, "BadRequest")
    _error(client.post("/v1/predict/batch", content=b"", headers={"Content-Type": "multipart/form-data"}),
           400, "BadRequest")


def test_unknown_route_and_method(client):
    _error(client.get("/v1/nope"), 404, "NotFound")
    _error(client.get("/v1/predict"), 405, "MethodNotAllowed")
    _error(client.post("/v1/predict?annotate=maybe", content=b"x"), 400, "BadRequest")


# -- limits enforced on the wire (raw sockets: what a hostile client does) -------------------------

def _read_response(sock: socket.socket, timeout: float = 20) -> tuple[int, dict, dict]:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            break
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        more = sock.recv(65536)
        if not more:
            break
        body += more
    return int(lines[0].split()[1]), headers, json.loads(body)


def test_declared_oversized_body_is_refused_before_it_is_sent(server):
    with socket.create_connection(server.host_port, timeout=20) as s:
        s.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/jpeg\r\nContent-Length: 1000000000\r\n\r\n")
        status, _, body = _read_response(s)
    assert status == 413 and body["error_type"] == "PayloadTooLarge"
    assert "over the limit of 2 MB" in body["error"]


def test_streamed_oversized_body_is_stopped_while_it_streams(server):
    """Chunked, no length: the server answers 413 once 2 MB have arrived, long before the client's 64 MB."""
    chunk = b"\xff" * 65536
    sent, total = 0, 64 << 20
    with socket.create_connection(server.host_port, timeout=20) as s:
        s.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n")
        deadline = time.monotonic() + 60
        while sent < total and time.monotonic() < deadline:
            readable, writable, _ = select.select([s], [s], [], 1.0)
            if readable:
                break
            if writable:
                try:
                    s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += len(chunk)
        status, _, body = _read_response(s)
    assert status == 413 and body["error_type"] == "PayloadTooLarge", body
    assert "stopped reading" in body["error"]
    assert sent < total // 2, f"the client got to send {sent} bytes"


def test_slow_body_gets_408(server):
    with socket.create_connection(server.host_port, timeout=20) as s:
        t0 = time.monotonic()
        s.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/jpeg\r\nContent-Length: 1000\r\n\r\n"
                  + b"\xff\xd8\xff" + b"\0" * 7)
        status, headers, body = _read_response(s)
    assert status == 408 and body["error_type"] == "RequestTimeout" and "slow client" in body["error"]
    assert 1.5 < time.monotonic() - t0 < 15


def test_slow_headers_get_408(server):
    """Slowloris: a header line dripped a byte at a time never completes; the connection is answered and closed."""
    with socket.create_connection(server.host_port, timeout=20) as s:
        t0 = time.monotonic()
        s.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: t\r\n")
        answered = None
        for byte in b"X-Slow: " + b"a" * 40:
            if select.select([s], [], [], 0.25)[0]:
                answered = time.monotonic() - t0
                break
            try:
                s.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
        status, _, body = _read_response(s)
    assert status == 408 and "headers did not arrive within 2 s" in body["error"]
    assert answered is not None and answered < 8


@pytest.mark.parametrize("path", ["/healthz", "/v1/model"])
def test_server_still_answers_after_the_bad_input(client, path):
    assert client.get(path).status_code == 200
