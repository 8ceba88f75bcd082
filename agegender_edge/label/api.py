"""``label(sources, out_dir, engine=...)``: label many images into a resumable Parquet dataset."""
from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Optional, Union

from ..errors import MissingDependencyError
from .settings import PredictorSettings
from .sources import DEFAULT_PATH_COLUMN, LabelInputError, expand_sources

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class LabelSummary:
    out_dir: str
    engine: str
    sources: int                 # images named by the SOURCE arguments (after de-duplication)
    skipped: int                 # already in the output folder (a resumed run)
    images: int                  # labelled by this run
    faces: int
    no_face_images: int
    errors: int                  # images that failed (their error rows are in the dataset)
    shards: int                  # shards written by this run
    seconds: float               # wall time of the labelling (model loads included; cluster start / stop not)
    startup_seconds: float       # Ray: starting or joining the cluster; 0 for local
    actors: Optional[int] = None
    failed: tuple[str, ...] = ()  # the error messages (each names its file) of the first FAILED_LISTED failures

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return dict(asdict(self), images_per_second=round(self.images_per_second, 3))

    def describe(self) -> str:
        if self.images == 0 and self.skipped == self.sources:
            return f"nothing to label: all {self.sources} images are already in {self.out_dir}"
        text = (f"{_plural(self.images, 'image')} labelled ({_plural(self.faces, 'face')}, {self.no_face_images} "
                f"without a face, {_plural(self.errors, 'error')}) in {self.seconds:.1f} s = {self.images_per_second:.1f} images/s")
        if self.engine == "ray":
            text += f" with {self.actors} actor(s); Ray start-up {self.startup_seconds:.1f} s"
        if self.skipped:
            text += f"; {self.skipped} already in {self.out_dir} skipped"
        return text + f"; {self.shards} shard(s) written to {self.out_dir}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _require(module: str, feature: str, extra: str):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(module.split(".")[0], extra, feature) from None


def _check_model(model: Optional[str]) -> None:
    """Fail on the driver, before a cluster starts, rather than in every actor."""
    from ..errors import ModelError
    from ..shipped import resolve_model

    path = resolve_model(model)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")


def label(sources: Union[str, Path, Iterable[Union[str, Path]]], out_dir: Union[str, Path], engine: str = "local",
          *, model: Optional[str] = None, backend: str = "auto", device: Optional[str] = None,
          detector: Optional[str] = "auto", min_detection_score: Optional[float] = None,
          batch_size: int = 32, max_faces: int = 64,
          max_pixels: Optional[int] = None, recursive: bool = False, path_column: str = DEFAULT_PATH_COLUMN,
          address: Optional[str] = None, actors: Optional[int] = None, gpus_per_actor: float = 0.0,
          cpus_per_actor: Optional[float] = None, num_cpus: Optional[int] = None, block_images: int = 64,
          shard_images: int = 2000, shard_seconds: float = 60.0, progress: Optional[bool] = None) -> LabelSummary:
    """Label every face in ``sources`` into the Parquet dataset ``out_dir`` (see docs/SCALE.md).

    sources: folders, globs, image files, CSV / Parquet manifests with a ``path_column``, or URIs
        (``s3://bucket/prefix/``, read through pyarrow filesystems).
    engine: "local" (this process, the streaming Predictor) or "ray" (Ray Data actors; a local
        cluster unless ``address`` or $RAY_ADDRESS names one, or ``ray.init`` was already called).
    detector: a detector spec as for Predictor, or None / "none" for ready-cropped faces.
    min_detection_score: as for Predictor (None: the detector's default).
    Rerunning with the same ``out_dir`` skips the images already written. Bad sources, an unusable
    ``out_dir`` or a missing extra raise (LabelInputError, MissingDependencyError) before any work.
    """
    from .settings import detector_spec

    if engine not in ENGINES:
        raise LabelInputError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if batch_size < 1 or block_images < 1 or shard_images < 1:
        raise LabelInputError("batch_size, block_images and shard_images must be >= 1")
    from ..detection.base import check_min_score
    try:
        min_detection_score = check_min_score(min_detection_score)
    except ValueError as exc:
        raise LabelInputError(str(exc)) from None
    _require("pyarrow", "agegender-edge label (Parquet output)", "parquet")
    if engine == "ray":
        _require("ray.data", "--engine ray", "distributed")
    if isinstance(sources, (str, Path)):
        sources = [sources]
    images = expand_sources([str(s) for s in sources], recursive=recursive, path_column=path_column)

    _check_model(model)

    from .store import ShardWriter, open_output

    out = Path(out_dir)
    done = open_output(out)
    pending = [s for s in images if s not in done]
    settings = PredictorSettings(model=model, backend=backend, device=device, detector=detector_spec(detector),
                                 batch_size=batch_size, max_faces=max_faces,
                                 max_pixels=max_pixels, min_detection_score=min_detection_score)
    writer = ShardWriter(out, shard_images=shard_images, shard_seconds=shard_seconds)
    show = progress if progress is not None else sys.stderr.isatty()
    startup, shutdown, n_actors = 0.0, 0.0, None
    t0 = time.perf_counter()
    try:
        if pending and engine == "local":
            from tqdm import tqdm

            from .local_engine import run_local
            with tqdm(total=len(pending), unit="img", disable=not show, file=sys.stderr) as bar:
                run_local(pending, settings, writer, on_image=lambda: bar.update(1))
        elif pending:
            from .ray_engine import RayOptions, run_ray
            run = run_ray(pending, settings, writer, RayOptions(
                address=address, actors=actors, gpus_per_actor=gpus_per_actor, cpus_per_actor=cpus_per_actor,
                num_cpus=num_cpus, block_images=block_images), progress=show)
            startup, shutdown, n_actors = run.startup_seconds, run.shutdown_seconds, run.plan.actors
    finally:
        writer.flush()   # interrupted (Ctrl-C, a failed cluster): keep every image finished so far
    writer.close()
    seconds = max(time.perf_counter() - t0 - startup - shutdown, 0.0)
    s = writer.stats
    return LabelSummary(out_dir=str(out), engine=engine, sources=len(images), skipped=len(images) - len(pending),
                        images=s.images, faces=s.faces, no_face_images=s.no_face_images, errors=s.errors,
                        shards=s.shards, seconds=round(seconds, 3), startup_seconds=round(startup, 3),
                        actors=n_actors, failed=tuple(s.failed))
