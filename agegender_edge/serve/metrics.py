"""Prometheus metrics (``GET /metrics``): requests by route, method and status, request latency,
images and faces, inference batch sizes (faces per call) and queue depth. One registry per app,
so several apps in one process (tests, Ray replicas) never share counters."""
from __future__ import annotations

import time

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    def __init__(self, queue_depth):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        r = self.registry = CollectorRegistry()
        self.requests = Counter("agegender_http_requests", "HTTP requests by route, method and status code",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("agegender_http_request_duration_seconds", "Request latency (first byte in to "
                                 "last byte out) by route", ["route"], buckets=LATENCY_BUCKETS, registry=r)
        self.images = Counter("agegender_images", "Images predicted, by outcome (ok / error)", ["outcome"], registry=r)
        self.faces = Counter("agegender_faces", "Faces found in predicted images", registry=r)
        self.batch_size = Histogram("agegender_inference_batch_size", "Faces per inference call (requests share "
                                    "calls)", buckets=BATCH_BUCKETS, registry=r)
        self.rejected = Counter("agegender_rejected_requests", "Requests refused with 503 because the queue was "
                                "full", registry=r)
        depth = Gauge("agegender_queue_depth", "Images admitted and not yet answered", registry=r)
        depth.set_function(queue_depth)

    def count_results(self, results) -> None:
        for res in results:
            self.images.labels("ok" if res.ok else "error").inc()
            if res.faces:
                self.faces.inc(len(res.faces))

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Pure ASGI middleware: status and latency of every HTTP request. Paths outside the app's
    routes count as route "other" (a scanner cannot grow the label set)."""

    def __init__(self, app, metrics: Metrics, routes: frozenset):
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = [500]

        async def send_wrapped(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapped)
        finally:
            path = scope["path"]
            route = path if path in self.routes else ("/static" if path.startswith("/static/") else "other")
            self.metrics.requests.labels(route, scope["method"], str(status[0])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - t0)
