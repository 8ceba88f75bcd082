"""``engine="ray"``: Ray Data ``map_batches`` over an actor pool, one Predictor per actor.

Images never pass through the driver: the driver sends source paths (blocks of ``block_images``),
each actor decodes, detects and infers its block and returns the label rows (a few hundred bytes
per face), and the driver streams those rows into the shard writer as blocks finish — so the same
writer, resume log and schema serve both engines, and killing the driver loses at most the shard
being filled.
"""
from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from typing import Optional, Sequence

from ..errors import BackendUnavailableError
from .labeller import ResultLabeller
from .settings import PredictorSettings
from .sources import LabelInputError
from .store import ShardWriter

log = logging.getLogger("agegender_edge")


@dataclass(frozen=True)
class RayOptions:
    address: Optional[str] = None          # None: a new local cluster (or $RAY_ADDRESS when set)
    actors: Optional[int] = None           # None: one per GPU share, or one per 2 CPUs
    gpus_per_actor: float = 0.0
    cpus_per_actor: Optional[float] = None  # None: the cluster's CPUs / (actors + 1), see plan_pool
    num_cpus: Optional[int] = None         # size of a local cluster started here (None: all CPUs)
    block_images: int = 64                 # images per actor call (at most)


@dataclass(frozen=True)
class PoolPlan:
    actors: int
    cpus_per_actor: float
    gpus_per_actor: float
    threads_per_actor: int                 # decode + ONNX Runtime threads inside each actor


@dataclass
class RayRun:
    startup_seconds: float = 0.0           # ray.init (a local cluster's start, or joining one)
    shutdown_seconds: float = 0.0          # stopping a local cluster started here
    started_cluster: bool = False
    plan: Optional[PoolPlan] = None


def plan_pool(cluster_cpus: float, cluster_gpus: float, opts: RayOptions) -> PoolPlan:
    """Actor count and per-actor resources for this cluster.

    Actors never reserve all CPUs: Ray Data's own tasks (splitting and moving blocks, reading) need
    CPU slots too, and an actor pool holding every CPU leaves them none — the job hangs. So each
    actor reserves cluster CPUs / (actors + 1) unless told otherwise. Threads inside an actor follow
    its physical share of the CPUs (reservations are logical; ONNX Runtime does not see them)."""
    if opts.gpus_per_actor < 0:
        raise LabelInputError("--gpus-per-actor must be >= 0")
    if opts.gpus_per_actor > 0:
        if cluster_gpus < opts.gpus_per_actor:
            raise LabelInputError(f"--gpus-per-actor {opts.gpus_per_actor:g}: the Ray cluster has "
                                  f"{cluster_gpus:g} GPU(s)")
        fit = int(cluster_gpus // opts.gpus_per_actor)
        actors = opts.actors or fit
        if actors > fit:
            raise LabelInputError(f"--actors {actors} x --gpus-per-actor {opts.gpus_per_actor:g} needs more than "
                                  f"the cluster's {cluster_gpus:g} GPU(s)")
    else:
        actors = opts.actors or max(1, int(cluster_cpus // 2))
    if actors < 1:
        raise LabelInputError("--actors must be >= 1")
    cpus = opts.cpus_per_actor if opts.cpus_per_actor is not None else cluster_cpus / (actors + 1)
    if cpus <= 0 or cpus * actors > cluster_cpus:
        raise LabelInputError(f"{actors} actor(s) x {cpus:g} CPU(s) do not fit the cluster's {cluster_cpus:g} CPUs")
    threads = max(1, round(cluster_cpus / actors))
    return PoolPlan(actors=actors, cpus_per_actor=round(cpus, 3), gpus_per_actor=opts.gpus_per_actor,
                    threads_per_actor=threads)


def connect(opts: RayOptions) -> tuple[bool, float]:
    """Join or start a cluster; (started here, seconds). A session the caller already opened is used as is."""
    import ray

    if ray.is_initialized():
        return False, 0.0
    t0 = time.perf_counter()
    quiet = dict(logging_level=logging.WARNING, configure_logging=True)
    if opts.address:
        ray.init(address=opts.address, **quiet)
        started = False
    elif os.environ.get("RAY_ADDRESS"):
        ray.init(**quiet)           # the documented Ray convention for "join this cluster"
        started = False
    else:
        # a fresh local cluster, never one found lying around in /tmp/ray; no usage reporting to anyone
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        try:
            ray.init(address="local", num_cpus=opts.num_cpus, include_dashboard=False, **quiet)
        except Exception as exc:   # Ray raises a bare Exception when its raylet misses its (fixed) 30 s start
            if "timed out during startup" not in str(exc):
                raise
            raise BackendUnavailableError(
                f"the local Ray cluster did not start within Ray's 30 s limit ({exc}); the machine is probably "
                f"overloaded: retry, or start one with `ray start --head` and pass --address auto") from None
        started = True
    return started, time.perf_counter() - t0


class LabelActor:
    """A Ray Data callable class: built once per actor (loads the model), called per block."""

    def __init__(self, settings: PredictorSettings):
        self.labeller = ResultLabeller(settings)

    def __call__(self, batch):
        from .schema import table_from_rows

        sources = batch.column("source").to_pylist()
        rows = [row for image_rows in self.labeller.rows(sources, chunk=len(sources)) for row in image_rows]
        return table_from_rows(rows)


def run_ray(sources: Sequence[str], settings: PredictorSettings, writer: ShardWriter, opts: RayOptions,
            progress: bool = True) -> RayRun:
    import pyarrow as pa
    import ray
    import ray.data

    started, startup = connect(opts)
    run = RayRun(startup_seconds=startup, started_cluster=started)
    try:
        resources = ray.cluster_resources()
        plan = run.plan = plan_pool(float(resources.get("CPU", 0)), float(resources.get("GPU", 0)), opts)
        log.info("ray: %d actor(s) x %.3g CPU, %.3g GPU, %d thread(s) each; cluster %s",
                 plan.actors, plan.cpus_per_actor, plan.gpus_per_actor, plan.threads_per_actor, resources)
        settings = _with_threads(settings, plan)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = progress
        # at least ~4 blocks per actor, so that the last blocks do not leave actors idle
        block = max(1, min(opts.block_images, math.ceil(len(sources) / (4 * plan.actors))))
        table = pa.table({"source": pa.array(list(sources), pa.string())})
        blocks = [table.slice(i, block) for i in range(0, table.num_rows, block)]
        ds = ray.data.from_arrow(blocks).map_batches(
            LabelActor, fn_constructor_args=(settings,), batch_size=block, batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=plan.actors), num_cpus=plan.cpus_per_actor,
            num_gpus=plan.gpus_per_actor or None)
        for rows in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            writer.add(rows)
        return run
    finally:
        if started:
            t0 = time.perf_counter()
            ray.shutdown()
            run.shutdown_seconds = time.perf_counter() - t0


def _with_threads(settings: PredictorSettings, plan: PoolPlan) -> PredictorSettings:
    from dataclasses import replace

    device = settings.device
    if device is None:
        device = "cuda" if plan.gpus_per_actor > 0 else "cpu"   # Ray sets CUDA_VISIBLE_DEVICES per actor
    return replace(settings, device=device, workers=plan.threads_per_actor,
                   intra_op_threads=settings.intra_op_threads or plan.threads_per_actor)
