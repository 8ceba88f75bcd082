"""``agegender-edge serve --engine ray``: the same app as a Ray Serve deployment.

Each replica builds its own Predictor and serves ``app.create_app`` as its FastAPI ingress (built
in the replica, ``__serve_build_asgi_app__``); Ray Serve's HTTP proxy spreads requests over the
replicas, which the cluster schedules on its nodes. Inside a replica, ``@serve.batch`` gathers
the images of concurrent requests (at most ``batch_size`` images, waiting at most
``max_batch_delay_ms``) into one ``Predictor.predict`` call, whose faces share inference calls.
Ray Serve sheds load itself too (``max_queued_requests``: 503).
"""
from __future__ import annotations

import asyncio
import logging
import signal
import threading
from typing import Callable, Optional, Sequence

from ..results import ImageResult
from .batching import BatchObserver, Engine, QueueFullError, ShuttingDownError, model_info
from .payload import rename_result
from .settings import ServeSettings

log = logging.getLogger("agegender_edge.serve")
APP_NAME = "agegender-edge"


def replica_engine_class():
    """RayReplicaEngine, defined once Ray Serve is imported (``@serve.batch`` needs it)."""
    from ray import serve

    class RayReplicaEngine(Engine):
        def __init__(self, predictor, settings: ServeSettings):
            self.predictor = predictor
            self.max_queue = settings.max_queue
            self._pending = 0
            self._stopping = False
            predictor.runner = BatchObserver(predictor.runner, self._notify_batch)
            self.model_info = dict(model_info(predictor), engine="ray",
                                   replica=serve.get_replica_context().replica_id.unique_id)
            self._infer.set_max_batch_size(predictor.batch_size)
            self._infer.set_batch_wait_timeout_s(settings.max_batch_delay_ms / 1000.0)

        def ready(self) -> bool:
            return not self._stopping

        def queue_depth(self) -> int:
            return self._pending

        async def stop(self) -> None:
            self._stopping = True
            self.predictor.close()

        async def predict(self, images: Sequence[tuple[str, bytes]]) -> list[ImageResult]:
            if self._stopping:
                raise ShuttingDownError("the replica is shutting down")
            if self._pending + len(images) > self.max_queue:
                raise QueueFullError(f"{self._pending} images are waiting in this replica (limit {self.max_queue})")
            self._pending += len(images)
            try:
                return list(await asyncio.gather(*(self._infer(item) for item in images)))
            finally:
                self._pending -= len(images)

        @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.005)
        async def _infer(self, items: list) -> list:
            """The images of concurrent requests in one Predictor call (one ImageResult each)."""
            results = await asyncio.to_thread(self.predictor.predict, [data for _, data in items])
            return [rename_result(r, k, name) for k, (r, (name, _)) in enumerate(zip(results, items))]

    return RayReplicaEngine


def deployment(settings: ServeSettings, replicas: int, cpus_per_replica: float):
    """The bound Ray Serve application."""
    from ray import serve

    from .app import create_app

    engine_class = replica_engine_class()

    @serve.deployment(name="AgeGender", num_replicas=replicas, ray_actor_options={"num_cpus": cpus_per_replica},
                      max_ongoing_requests=max(8, settings.max_queue), max_queued_requests=settings.max_queue,
                      health_check_period_s=5)
    @serve.ingress()
    class AgeGenderReplica:
        def __init__(self, settings: ServeSettings):
            self.settings = settings
            self.engine = engine_class(settings.predictor.build(), settings)

        def __serve_build_asgi_app__(self):
            return create_app(self.settings, self.engine)

    return AgeGenderReplica.bind(settings)


def serve_on_ray(settings: ServeSettings, replicas: int = 1, address: Optional[str] = None,
                 num_cpus: Optional[int] = None, announce: Optional[Callable[[str], None]] = None,
                 stop: Optional[threading.Event] = None) -> None:
    """Deploy on a cluster (joined, or started here), serve until SIGTERM / SIGINT (or ``stop``),
    then delete the application (and stop a cluster started here)."""
    import dataclasses

    import ray
    from ray import serve

    from ..label.ray_engine import RayOptions, connect

    started, _ = connect(RayOptions(address=address, num_cpus=num_cpus))
    try:
        cluster_cpus = ray.cluster_resources().get("CPU", 1.0)
        cpus = max(0.1, min(1.0, cluster_cpus / replicas))
        # threads per replica follow its share of the CPUs (replicas of one node share its cores)
        threads = max(1, int(cluster_cpus // replicas)) if started else None
        if threads and settings.predictor.workers is None:
            settings = dataclasses.replace(settings, predictor=dataclasses.replace(
                settings.predictor, workers=max(1, threads // 2), intra_op_threads=max(1, threads - threads // 2)))
        port = settings.port or free_port(settings.host)
        serve.start(http_options={"host": settings.host, "port": port}, logging_config={"log_level": "WARNING"})
        serve.run(deployment(settings, replicas, cpus), name=APP_NAME, route_prefix="/")
        if announce is not None:
            announce(f"http://{settings.host}:{port}")
        stop = stop or threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        while not stop.wait(0.5):
            pass
        serve.delete(APP_NAME)      # replicas finish the requests they hold (graceful_shutdown_wait_loop_s)
        serve.shutdown()
    finally:
        if started:
            ray.shutdown()


def free_port(host: str) -> int:
    """A port free on ``host`` now (Ray Serve's proxy takes a number, not 0)."""
    from .server import bind

    with bind(host, 0) as sock:
        return sock.getsockname()[1]
