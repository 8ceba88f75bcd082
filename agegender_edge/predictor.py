"""``Predictor``: images in, faces with age group, age and gender out.

Pipeline inside every call (``predict``, ``predict_faces``, ``predict_iter``, ``predict_detected``):

    input images --(bounded read-ahead)--> prep workers: decode -> detect -> cut/align faces
        --(in input order)--> faces fill a batch of ``batch_size`` --> inference (the calling
        thread) -> decode outputs -> ImageResults, yielded in input order

The workers run ahead of inference through a bounded window of images (``read_ahead``), so
the network starts as soon as ``batch_size`` faces are ready (a partial batch when the input
ends) and the next images are prepared while a batch runs; a generator input is pulled only as
the window frees up (never materialised). Batches are filled with the faces in input order, so
the outputs are identical to the unpipelined reference path (``pipelined=False``: prepare all,
then infer all). Threads: ONNX Runtime intra-op threads + prep workers = the usable cores
(threads.py). One bad image yields an ImageResult with ``error`` set; the others are unaffected.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence, Union

import numpy as np

from .backends.base import Runner
from .backends.onnxruntime import OrtOptions
from .backends.select import create_runner
from .decode import decode_outputs
from .detection import DetectorSpec, FaceDetector, create_detector
from .detection.base import ChipCalibration, Detection, check_min_score
from .detection.whole_image import WholeImage
from .errors import AgeGenderError, InvalidImageError, ModelError
from .imageio import (DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_PIXELS, ImageInput, check_batch_bytes, describe_source,
                      load_image)
from .metadata import ModelMetadata
from .preprocess import FaceBatch, write_face
from .results import BoundingBox, FaceResult, ImageResult
from .scaled_decode import ScaledImage, load_for_detection
from .threads import ThreadPlan, calibration_model, plan_threads

log = logging.getLogger("agegender_edge")

# re-exported: callers and tests import these from here
from .shipped import MODEL_ENV, default_model_path, resolve_model, uses_builtin_default  # noqa: E402,F401


@dataclass
class _Prepared:
    """One image after decode + detect + crop (on a worker thread)."""

    index: int
    source: str
    width: int = 0
    height: int = 0
    faces: list = field(default_factory=list)      # [(Detection, crop BoundingBox)]
    inputs: Optional[np.ndarray] = None            # [n_faces, H, W, 3] BGR uint8 network inputs
    error: Optional[AgeGenderError] = None
    decoded: list = field(default_factory=list)    # per-face network outputs, as batches finish

    @property
    def done(self) -> bool:
        return self.error is not None or len(self.decoded) == len(self.faces)

    def result(self) -> ImageResult:
        if self.error is not None:
            return ImageResult(source=self.source, width=self.width, height=self.height,
                               error=str(self.error), error_type=type(self.error).__name__)
        faces = [FaceResult(box=BoundingBox(det.x, det.y, det.width, det.height), crop_box=crop,
                            detection_score=det.score, landmarks=det.landmarks, **fields)
                 for (det, crop), fields in zip(self.faces, self.decoded)]
        return ImageResult(source=self.source, faces=faces, width=self.width, height=self.height)


class GivenDetections(FaceDetector):
    """A 'detector' that returns detections decided elsewhere (``predict_detected``)."""

    name = "given"

    def __init__(self, detections: list[Detection], calibration: ChipCalibration):
        super().__init__(max_side=0)
        self.detections = detections
        self.calibration = calibration

    def _detect_one(self, bgr: np.ndarray) -> list[Detection]:
        return self.detections

    def detect(self, bgr: np.ndarray) -> list[Detection]:
        return self.detections


class Predictor:
    """Age group, age and gender for every face in a batch of images.

    Args:
        model: ``.onnx`` or TensorRT ``.engine`` path, or the name of a shipped model
            (``agegender_edge.shipped.shipped_models()``); default: ``dlib_resnet_aligned``, run
            from its INT8 file on ONNX Runtime CPU and its FP32 file on GPUs (logged).
        backend: "auto" | "onnxruntime" | "tensorrt" (see backends/select.py for the order).
        device: None (best available), "cpu", "cuda" or "cuda:N".
        detector: "auto" (YuNet if $AGEGENDER_EDGE_YUNET names its file, else Haar), "haar",
            "yunet:PATH", None (each image is already a face chip), or a FaceDetector.
        batch_size: faces per inference call (faces of consecutive images share batches).
        max_pixels: images over this many pixels are refused before decoding.
        max_faces: at most this many faces (highest scores) per image.
        max_batch_bytes: input bytes (file sizes, encoded bytes, array buffers) one ``predict`` /
            ``predict_faces`` call may carry; over it the call raises BatchTooLargeError before
            decoding. ``predict_iter`` streams, so it refuses single encoded images over it
            instead (ImageTooLargeError). None: no limit. Default 1 GiB.
        workers: threads for decode / detect / crop; None: chosen with the ONNX Runtime
            intra-op threads from the usable cores (threads.plan_threads; an explicit
            ``ort_options.intra_op_threads`` is kept and the workers take the rest).
        metadata: preprocessing for an ONNX file exported elsewhere (without our metadata).
        pipelined: False = the unpipelined reference path (all images of a call, or of a
            ``predict_iter`` window, prepared before any inference); same outputs, slower.
        read_ahead: images prepared ahead of inference (None: 2 x batch_size + 2 x workers).
        min_detection_score: detections scoring below this (0..1) are not faces; None: the
            detector's default (YuNet: detection.yunet.DEFAULT_MIN_SCORE, chosen on data;
            Haar: 0). For a FaceDetector instance, set its own ``min_score`` instead.
        reduced_decode: JPEGs at least twice the detector's ``detect_max_side`` are decoded at
            1/2, 1/4 or 1/8 scale for detection, and faces that need more pixels than that are
            cut from the full resolution, decoded only then (scaled_decode.py).
        return_embeddings: each FaceResult also carries ``embedding``, the model's face
            descriptor (L2-normalised; the same network pass, no second one); per call:
            ``predict(..., return_embeddings=True)``. ModelError for a model without one.
    """

    def __init__(self, model: Union[str, Path, None] = None, backend: str = "auto",
                 device: Optional[str] = None, detector: DetectorSpec = "auto", batch_size: int = 32,
                 max_pixels: int = DEFAULT_MAX_PIXELS, max_faces: int = 64,
                 max_batch_bytes: Optional[int] = DEFAULT_MAX_BATCH_BYTES, workers: Optional[int] = None,
                 detect_max_side: int = 960, ort_options: OrtOptions = OrtOptions(),
                 metadata: Optional[ModelMetadata] = None, engine_cache_dir: Optional[Path] = None,
                 pipelined: bool = True, read_ahead: Optional[int] = None, reduced_decode: bool = True,
                 min_detection_score: Optional[float] = None, return_embeddings: bool = False):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        min_detection_score = check_min_score(min_detection_score)
        if min_detection_score is not None and isinstance(detector, FaceDetector):
            raise ValueError("min_detection_score applies to detectors made from a name; "
                             "set min_score on the FaceDetector instance instead")
        if read_ahead is not None and read_ahead < 1:
            raise ValueError("read_ahead must be >= 1 (or None)")
        self.model_path = resolve_model(model)
        if model is None and not self.model_path.is_file():
            raise ModelError(f"{self.model_path}: the default model is missing from this installation "
                             f"(reinstall agegender-edge, or pass model=PATH)")
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        self.max_batch_bytes = max_batch_bytes
        self.pipelined = pipelined
        self.reduced_decode = reduced_decode
        self.return_embeddings = bool(return_embeddings)
        # the thread budget: intra-op threads + prep workers never exceed the usable cores
        self.threads: ThreadPlan = plan_threads(
            workers=workers, intra_op_threads=ort_options.intra_op_threads,
            model_path=calibration_model(self.model_path, uses_builtin_default(model), backend, device))
        ort_options = dataclasses.replace(ort_options, intra_op_threads=self.threads.intra_op_threads)
        self.runner: Runner = create_runner(self.model_path, backend=backend, device=device,
                                            ort_options=ort_options, metadata=metadata,
                                            engine_cache_dir=engine_cache_dir, max_batch_size=batch_size,
                                            default_model=uses_builtin_default(model))
        # the file that actually runs (the built-in default runs its INT8 file on ONNX Runtime CPU)
        self.model_path = Path(getattr(self.runner, "model_path", self.model_path))
        self.runner.activate()
        if workers is None and _runs_off_cpu(self.runner):
            # inference on a GPU leaves every core to preparation
            self.threads = ThreadPlan(self.threads.cores, self.threads.intra_op_threads, self.threads.cores)
        self.workers = self.threads.prep_workers
        self.read_ahead = read_ahead or (2 * batch_size + 2 * self.workers)
        try:
            self.metadata: ModelMetadata = self.runner.metadata
            self._wants_embeddings(None)   # return_embeddings=True with a model that has none: refused now
            self.detector: FaceDetector = create_detector(detector, max_side=detect_max_side, max_faces=max_faces,
                                                          min_score=min_detection_score) \
                if detector is not None else WholeImage()
        except BaseException:
            self.runner.deactivate()
            raise
        self._lock = threading.Lock()  # one inference at a time per Predictor (see README: threads)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="agegender-prep")
        self._whole = WholeImage()
        log.info("Predictor ready: model %s (%s), %s, detector %s, batch %d, %s", self.model_path.name,
                 self.metadata.name, self.runner.describe(), self.detector.describe(), batch_size,
                 self.threads.describe())

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.runner.deactivate()
        self.detector.close()

    def __enter__(self) -> "Predictor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def inference_calls(self) -> int:
        return self.runner.calls

    @property
    def inference_seconds(self) -> float:
        """Wall seconds the network has been busy (all calls so far): end-to-end benchmarks
        divide it by their wall time to report how busy the network was kept."""
        return self.runner.busy_seconds

    # -- stages ---------------------------------------------------------------------------
    def _prepare(self, index: int, item: ImageInput, colour_order: Optional[str], detector: FaceDetector) -> _Prepared:
        """Decode, detect and cut every face of one image (a worker thread; OpenCV releases the GIL)."""
        prep = _Prepared(index=index, source=describe_source(item, index))
        try:
            if self.reduced_decode and detector.max_side:
                img = load_for_detection(item, colour_order, self.max_pixels, index, self.max_batch_bytes,
                                         detector.max_side)
            else:
                img = load_image(item, colour_order, self.max_pixels, index, max_bytes=self.max_batch_bytes)
            if isinstance(img, ScaledImage):
                prep.inputs, prep.faces = self._cut_scaled(img, detector)
                prep.width, prep.height = img.full_size
            else:
                bgr = img.bgr
                prep.height, prep.width = bgr.shape[:2]
                found = detector.detect(bgr)
                h, w = self.metadata.input.size
                inputs = np.empty((len(found), h, w, 3), dtype=np.uint8)  # each face written in place
                faces = []
                for k, det in enumerate(found):
                    crop, _aligned = write_face(bgr, det, detector.calibration, self.metadata, inputs[k])
                    faces.append((det, BoundingBox(*crop)))
                prep.inputs, prep.faces = inputs, faces
        except AgeGenderError as exc:
            prep.error = exc
        except Exception as exc:  # an unexpected OpenCV failure on one image must not sink the batch
            prep.error = InvalidImageError(f"{prep.source}: cannot process image ({type(exc).__name__}: {exc})")
        return prep

    def _cut_scaled(self, img: ScaledImage, detector: FaceDetector) -> tuple[np.ndarray, list]:
        """Detect on the reduced decode; cut each face from it when it holds enough pixels for
        the network (scaled_decode.ScaledImage.needs_full), else from the full resolution
        (decoded once, only then). Detections and crops are reported in full-resolution pixels."""
        meta = self.metadata
        h, w = meta.input.size
        sx, sy = img.scale
        found = detector.detect(img.small)
        inputs = np.empty((len(found), h, w, 3), dtype=np.uint8)
        faces = []
        for k, small_det in enumerate(found):
            det = _scale_detection(small_det, sx, sy)
            # the network's region of the face in full-resolution pixels (box rule; an aligned
            # crop spans about the same)
            region = detector.calibration.chip(det)[2] * w / meta.crop.resize_to
            if img.needs_full(region, min(h, w)):
                crop, _aligned = write_face(img.full(), det, detector.calibration, meta, inputs[k])
            else:
                (x, y, cw, ch), _aligned = write_face(img.small, small_det, detector.calibration, meta, inputs[k])
                crop = (x * sx, y * sy, cw * sx, ch * sy)
            faces.append((det, BoundingBox(*crop)))
        return inputs, faces

    def _batch_capacity(self) -> int:
        cap = self.batch_size
        if self.runner.max_batch_size:
            cap = min(cap, self.runner.max_batch_size)
        return cap

    def _run_batch(self, batch: FaceBatch, owners: list[_Prepared], embeddings: bool = False) -> None:
        """The filled batch through the network; each face's outputs go to its image."""
        x = batch.network_input()          # outside the lock: other callers may infer meanwhile
        with self._lock:                   # one inference at a time per Predictor
            out = self.runner.infer(x)
        for owner, fields in zip(owners, decode_outputs(out, self.metadata, embeddings)):
            owner.decoded.append(fields)
        batch.clear()
        owners.clear()

    def _add_faces(self, prep: _Prepared, batch: FaceBatch, owners: list[_Prepared], embeddings: bool = False) -> None:
        """An image's faces into the batch in order, running the batch each time it fills."""
        if prep.error is not None:
            return
        for face in prep.inputs:
            batch.add(face)
            owners.append(prep)
            if batch.full:
                self._run_batch(batch, owners, embeddings)

    def _stream(self, jobs: Iterator[tuple[int, ImageInput, FaceDetector]], colour_order: Optional[str],
                read_ahead: int, embeddings: bool = False) -> Iterator[ImageResult]:
        """The pipeline: at most ``read_ahead`` images between input and output; faces enter
        the batch in input order and a batch runs as soon as it is full; results leave in
        input order as soon as all faces of an image (and of every image before it) are done."""
        batch = FaceBatch(self.metadata, self._batch_capacity())
        owners: list[_Prepared] = []       # the image of each filled batch slot
        pending: deque[_Job] = deque()     # submitted to the workers, input order
        waiting: deque[_Prepared] = deque()  # prepared, not yet yielded, input order
        exhausted = False

        def top_up() -> None:
            nonlocal exhausted
            while not exhausted and len(pending) + len(waiting) < read_ahead:
                try:
                    i, item, det = next(jobs)
                except StopIteration:
                    exhausted = True
                    return
                args = (i, item, colour_order, det)
                pending.append(_Job(self._pool.submit(self._prepare, *args), args))

        try:
            top_up()
            while pending or waiting:
                if pending:
                    prep = self._wait(pending.popleft(), pending)
                    waiting.append(prep)
                    self._add_faces(prep, batch, owners, embeddings)
                    prep.inputs = None         # the faces now live in the batch (or its outputs)
                elif batch.count:
                    # nothing left to prepare (input ended, or the window is full of images
                    # waiting for this batch): run the partial batch
                    self._run_batch(batch, owners, embeddings)
                while waiting and waiting[0].done:
                    yield waiting.popleft().result()
                top_up()                       # refill the window the finished images left
        finally:
            for job in pending:                # the caller stopped early: drop the read-ahead
                job.future.cancel()

    def _wait(self, job: "_Job", queued: deque) -> _Prepared:
        """The prepared image of ``job``. While it is not ready, the calling (inference) thread
        prepares queued images no worker has started yet, newest first, instead of idling: the
        network's thread helps preparation whenever it has no batch to run, so both cores work
        without a third thread competing for them."""
        if job.future.cancel():                    # queued behind other work (other callers)
            return self._prepare(*job.args)
        while not job.future.done():
            for k in range(len(queued) - 1, -1, -1):
                other = queued[k]
                if other.future.cancel():          # not started by a worker: do it here
                    done: Future = Future()
                    done.set_result(self._prepare(*other.args))
                    queued[k] = _Job(done, other.args)
                    break
            else:
                break                              # everything queued is running: just wait
        return job.future.result()

    def _sequential(self, jobs: Iterator[tuple[int, ImageInput, FaceDetector]], colour_order: Optional[str],
                    window: int, embeddings: bool = False) -> Iterator[ImageResult]:
        """The unpipelined reference path: each window of images is prepared completely (on the
        workers), then its faces are inferred in the same input-order batches."""
        while True:
            chunk = [j for _, j in zip(range(window), jobs)]
            if not chunk:
                return
            preps = [f.result() for f in [self._pool.submit(self._prepare, i, item, colour_order, det)
                                          for i, item, det in chunk]]
            batch = FaceBatch(self.metadata, self._batch_capacity())
            owners: list[_Prepared] = []
            for prep in preps:
                self._add_faces(prep, batch, owners, embeddings)
            if batch.count:
                self._run_batch(batch, owners, embeddings)
            yield from (p.result() for p in preps)

    def _results(self, jobs, colour_order: Optional[str], window: int,
                 return_embeddings: Optional[bool] = None) -> Iterator[ImageResult]:
        run = self._stream if self.pipelined else self._sequential
        return run(iter(jobs), colour_order, window, self._wants_embeddings(return_embeddings))

    def _wants_embeddings(self, asked: Optional[bool]) -> bool:
        """The call's choice (None: the Predictor's ``return_embeddings``); a model without the
        descriptor output cannot give one."""
        want = self.return_embeddings if asked is None else bool(asked)
        if want and self.metadata.embedding is None:
            raise ModelError(f"{self.model_path.name}: this model has no 'embedding' output (exported before "
                             f"the face descriptor existed; training/add_embedding_output.py adds it)")
        return want

    # -- public API -----------------------------------------------------------------------
    def predict_iter(self, images: Iterable[ImageInput], colour_order: Optional[str] = None,
                     chunk: Optional[int] = None, detector: Optional[FaceDetector] = None,
                     return_embeddings: Optional[bool] = None) -> Iterator[ImageResult]:
        """Stream results for many images (a list, or any iterable such as a generator, which is
        read lazily), in input order. At most ``chunk`` images (default: the predictor's
        ``read_ahead``) are read ahead of the results: memory stays flat on any folder size."""
        if colour_order is not None and colour_order not in ("BGR", "RGB"):
            raise ValueError(f"colour_order must be 'BGR' or 'RGB', not {colour_order!r}")
        if chunk is not None and chunk < 1:
            raise ValueError("chunk must be >= 1")
        det = detector or self.detector
        jobs = ((i, item, det) for i, item in enumerate(images))
        return self._results(jobs, colour_order, chunk or self.read_ahead, return_embeddings)

    def predict(self, images: Union[ImageInput, Sequence[ImageInput]], colour_order: Optional[str] = None,
                return_embeddings: Optional[bool] = None) -> Union[ImageResult, list[ImageResult]]:
        """One image -> ImageResult; a list/tuple of images -> list of ImageResult (same order).

        Images: file paths, encoded bytes, or numpy arrays (uint8/uint16, gray/3/4 channels) with
        ``colour_order="BGR"`` (OpenCV) or ``"RGB"`` (PIL, scikit-image) given explicitly.
        """
        return self._predict_all(images, colour_order, self.detector, return_embeddings)

    def predict_faces(self, crops: Union[ImageInput, Sequence[ImageInput]], colour_order: Optional[str] = None,
                      return_embeddings: Optional[bool] = None) -> Union[ImageResult, list[ImageResult]]:
        """Faces already cropped like the training chips (UTKFace / Adience style): no detection,
        each crop is one face."""
        return self._predict_all(crops, colour_order, self._whole, return_embeddings)

    def predict_detected(self, images: Sequence[ImageInput], detections: Sequence[Sequence[Detection]],
                         colour_order: Optional[str] = None, return_embeddings: Optional[bool] = None
                         ) -> list[ImageResult]:
        """Faces at given detections (e.g. a tracker's predicted boxes and landmarks between
        detector runs on video): image i's faces are ``detections[i]``, cut with the same rules
        (landmark alignment, else this predictor's detector calibration) and batched together."""
        if len(images) != len(detections):
            raise ValueError(f"{len(images)} images but {len(detections)} detection lists")
        if colour_order is not None and colour_order not in ("BGR", "RGB"):
            raise ValueError(f"colour_order must be 'BGR' or 'RGB', not {colour_order!r}")
        jobs = ((i, item, GivenDetections(list(dets), self.detector.calibration))
                for i, (item, dets) in enumerate(zip(images, detections)))
        return list(self._results(jobs, colour_order, self._call_window(len(images)), return_embeddings))

    def predict_video(self, source, *, every: int = 1, smooth="default", live: Optional[bool] = None,
                      max_delay_frames: int = 4, colour_order: Optional[str] = None, **options):
        """Tracked faces with smoothed age and gender for a video file (anything OpenCV/FFmpeg
        reads), a camera index, an RTSP/HTTP URL, or an iterable of frames (with
        ``colour_order``): an iterator of ``video.FrameResult`` in frame order, with
        ``summary()`` (one ``TrackSummary`` per track) and ``stats``. ``every=k`` runs the detector
        on every k-th frame (tracks are propagated in between); the faces of up to
        ``max_delay_frames`` frames share inference calls; ``live`` (default: cameras and URLs)
        keeps only the newest frame when the pipeline falls behind, counting the drops.
        ``smooth``: a ``video.Smoothing`` ("default": ``Smoothing()``, detection-score weighted
        averages of the probabilities), or None for none. Other options (fps, max_frames, tracker,
        open_timeout_s, read_timeout_s, detect_max_side, reid_window_s, cut_threshold, embeddings):
        ``video.predict_video``; ``stream.count_people()`` counts unique people.
        Details: docs/VIDEO.md."""
        from .video import Smoothing, predict_video
        return predict_video(self, source, every=every, smooth=Smoothing() if smooth == "default" else smooth,
                             live=live, max_delay_frames=max_delay_frames, colour_order=colour_order, **options)

    def _call_window(self, n: int) -> int:
        # a list call is bounded too (decoded images are held only while in flight); the
        # reference path keeps its old meaning: one call = one window
        return self.read_ahead if self.pipelined else max(n, 1)

    def _predict_all(self, images, colour_order: Optional[str], detector: FaceDetector,
                     return_embeddings: Optional[bool] = None) -> Union[ImageResult, list[ImageResult]]:
        """All faces of all images of the call share the inference batches."""
        single = not isinstance(images, (list, tuple))
        items = [images] if single else list(images)
        if colour_order is not None and colour_order not in ("BGR", "RGB"):
            raise ValueError(f"colour_order must be 'BGR' or 'RGB', not {colour_order!r}")
        check_batch_bytes(items, self.max_batch_bytes)
        jobs = ((i, item, detector) for i, item in enumerate(items))
        results = list(self._results(jobs, colour_order, self._call_window(len(items)), return_embeddings))
        return results[0] if single else results


@dataclass(frozen=True)
class _Job:
    """One image handed to the prep workers: its future and the arguments of ``_prepare``."""

    future: Future
    args: tuple


def _scale_detection(d: Detection, sx: float, sy: float) -> Detection:
    return Detection(d.x * sx, d.y * sy, d.width * sx, d.height * sy, d.score,
                     tuple((px * sx, py * sy) for px, py in d.landmarks) if d.landmarks else None)


def _runs_off_cpu(runner: Runner) -> bool:
    """True when inference runs on a GPU (TensorRT, or an ORT CUDA/TensorRT provider)."""
    if runner.name == "tensorrt":
        return True
    providers = getattr(runner, "active_providers", None) or []
    return bool(providers) and providers[0] != "CPUExecutionProvider"
