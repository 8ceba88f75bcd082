"""Back-pressure, timeouts and graceful shutdown on real servers."""
from __future__ import annotations

import concurrent.futures as cf
import socket
import time

import httpx

from .conftest import TOLERANCE, expected_json, max_abs_diff, metric, wait_until


def _depth(url: str) -> float:
    return metric(httpx.get(url + "/metrics").text, "agegender_queue_depth")


def test_full_queue_answers_503_with_retry_after_and_slow_images_time_out(servers, photos):
    """tiny_queue: 2 images admitted at most; they wait 3 s for company, longer than the 2 s request timeout."""
    url = servers["tiny_queue"].url
    post = lambda p: httpx.post(url + "/v1/predict", content=p.read_bytes(),   # noqa: E731
                                headers={"Content-Type": "image/jpeg"}, timeout=60)
    with cf.ThreadPoolExecutor(2) as pool:
        t0 = time.monotonic()
        admitted = [pool.submit(post, p) for p in photos[:2]]
        wait_until(lambda: _depth(url) == 2, 20, "two admitted images")
        refused = post(photos[2])
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert refused.json()["error_type"] == "QueueFull" and "2 images are waiting (limit 2)" in refused.json()["error"]
        answers = [f.result() for f in admitted]
    assert [a.status_code for a in answers] == [504, 504]
    assert "--request-timeout-s" in answers[0].json()["error"] and time.monotonic() - t0 < 30
    wait_until(lambda: _depth(url) == 0, 30, "the queue to drain")
    text = httpx.get(url + "/metrics").text
    assert metric(text, "agegender_rejected_requests_total") == 1
    assert metric(text, "agegender_http_requests_total", route="/v1/predict", status="503") == 1


def test_graceful_shutdown_answers_requests_in_flight(servers, photos, reference_predictor):
    """SIGTERM while 3 requests wait in the batcher: all three are answered in full, new
    connections are refused, and the process exits 0."""
    server = servers["shutdown"]
    post = lambda p: httpx.post(server.url + "/v1/predict", content=p.read_bytes(),   # noqa: E731
                                headers={"Content-Type": "image/jpeg"}, timeout=60)
    with cf.ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(post, p) for p in photos[:3]]
        wait_until(lambda: _depth(server.url) == 3, 20, "three requests in flight")
        server.terminate()
        answers = [f.result() for f in futures]
    assert [a.status_code for a in answers] == [200, 200, 200]
    for p, a in zip(photos, answers):
        assert max_abs_diff(a.json(), expected_json(reference_predictor, p.read_bytes(), "upload")) < TOLERANCE
    assert server.proc.wait(timeout=60) == 0
    try:
        socket.create_connection(server.host_port, timeout=2).close()
        refused = False
    except OSError:
        refused = True
    assert refused
