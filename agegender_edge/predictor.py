"""``Predictor``: images in, faces with age group, age and gender out.

Pipeline per call: decode -> detect -> cut chips (a thread pool: OpenCV releases the GIL, so the
next images are decoded and detected while the current batch runs) -> ALL crops of all images go
through the network in batches of ``batch_size`` -> decode outputs -> per-image results.
One bad image yields an ImageResult with ``error`` set; the other images are unaffected.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence, Union

import numpy as np

from .backends.base import Runner
from .backends.onnxruntime import OrtOptions
from .backends.select import create_runner
from .decode import decode_outputs
from .detection import DetectorSpec, FaceDetector, create_detector
from .detection.whole_image import WholeImage
from .errors import AgeGenderError, InvalidImageError, ModelError
from .imageio import (DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_PIXELS, ImageInput, check_batch_bytes, describe_source,
                      load_image)
from .metadata import ModelMetadata
from .preprocess import InputBatch, chip_to_input, cut_square, square_region
from .results import BoundingBox, FaceResult, ImageResult

log = logging.getLogger("agegender_edge")

# re-exported: callers and tests import these from here
from .shipped import MODEL_ENV, default_model_path, resolve_model  # noqa: E402,F401


@dataclass
class _Prepared:
    """One image after decode + detect + crop (on a worker thread)."""

    index: int
    source: str
    width: int = 0
    height: int = 0
    faces: list = field(default_factory=list)      # [(Detection, crop BoundingBox)]
    inputs: list = field(default_factory=list)     # [HxWx3 uint8 network inputs]
    error: Optional[AgeGenderError] = None


class Predictor:
    """Age group, age and gender for every face in a batch of images.

    Args:
        model: ``.onnx`` or TensorRT ``.engine`` path, or the name of a shipped model
            (``agegender_edge.shipped.shipped_models()``); default: ``edge_resnet_utkface``.
        backend: "auto" | "onnxruntime" | "tensorrt" (see backends/select.py for the order).
        device: None (best available), "cpu", "cuda" or "cuda:N".
        detector: "auto" (YuNet if $AGEGENDER_EDGE_YUNET names its file, else Haar), "haar",
            "yunet:PATH", None (each image is already a face chip), or a FaceDetector.
        batch_size: faces per inference call.
        max_pixels: images over this many pixels are refused before decoding.
        max_faces: at most this many faces (highest scores) per image.
        max_batch_bytes: input bytes (file sizes, encoded bytes, array buffers) one ``predict`` /
            ``predict_faces`` call may carry; over it the call raises BatchTooLargeError before
            decoding. ``predict_iter`` streams, so it refuses single encoded images over it
            instead (ImageTooLargeError). None: no limit. Default 1 GiB.
        workers: threads for decode / detect / crop.
        metadata: preprocessing for an ONNX file exported elsewhere (without our metadata).
    """

    def __init__(self, model: Union[str, Path, None] = None, backend: str = "auto",
                 device: Optional[str] = None, detector: DetectorSpec = "auto", batch_size: int = 32,
                 max_pixels: int = DEFAULT_MAX_PIXELS, max_faces: int = 64,
                 max_batch_bytes: Optional[int] = DEFAULT_MAX_BATCH_BYTES, workers: int = 2,
                 detect_max_side: int = 960, ort_options: OrtOptions = OrtOptions(),
                 metadata: Optional[ModelMetadata] = None, engine_cache_dir: Optional[Path] = None):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.model_path = resolve_model(model)
        if model is None and not self.model_path.is_file():
            raise ModelError(f"{self.model_path}: the default model is missing from this installation "
                             f"(reinstall agegender-edge, or pass model=PATH)")
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        self.max_batch_bytes = max_batch_bytes
        self.workers = max(1, workers)
        self.runner: Runner = create_runner(self.model_path, backend=backend, device=device,
                                            ort_options=ort_options, metadata=metadata,
                                            engine_cache_dir=engine_cache_dir, max_batch_size=batch_size)
        self.runner.activate()
        try:
            self.metadata: ModelMetadata = self.runner.metadata
            self.detector: FaceDetector = create_detector(detector, max_side=detect_max_side, max_faces=max_faces) \
                if detector is not None else WholeImage()
        except BaseException:
            self.runner.deactivate()
            raise
        self._lock = threading.Lock()  # one inference at a time per Predictor (see README: threads)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="agegender-prep")
        self._whole = WholeImage()
        log.info("Predictor ready: model %s (%s), %s, detector %s, batch %d", self.model_path.name,
                 self.metadata.name, self.runner.describe(), self.detector.describe(), batch_size)

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

    # -- stages ---------------------------------------------------------------------------
    def _prepare(self, index: int, item: ImageInput, colour_order: Optional[str], detector: FaceDetector) -> _Prepared:
        prep = _Prepared(index=index, source=describe_source(item, index))
        try:
            img = load_image(item, colour_order, self.max_pixels, index, max_bytes=self.max_batch_bytes)
            bgr = img.bgr
            prep.height, prep.width = bgr.shape[:2]
            for det in detector.detect(bgr):
                cx, cy, side = detector.calibration.chip(det)
                x0, y0, s = square_region(cx, cy, side)
                prep.inputs.append(chip_to_input(cut_square(bgr, x0, y0, s), self.metadata))
                prep.faces.append((det, BoundingBox(float(x0), float(y0), float(s), float(s))))
        except AgeGenderError as exc:
            prep.error = exc
        except Exception as exc:  # an unexpected OpenCV failure on one image must not sink the batch
            prep.error = InvalidImageError(f"{prep.source}: cannot process image ({type(exc).__name__}: {exc})")
        return prep

    def _infer_all(self, inputs: list[np.ndarray]) -> list[dict]:
        """Every face input through the network, ``batch_size`` at a time."""
        decoded: list[dict] = []
        cap = self.batch_size
        if self.runner.max_batch_size:
            cap = min(cap, self.runner.max_batch_size)
        batch = InputBatch(self.metadata, cap)
        with self._lock:
            for start in range(0, len(inputs), cap):
                batch.clear()
                for face in inputs[start:start + cap]:
                    batch.add(face)
                decoded.extend(decode_outputs(self.runner.infer(batch.filled), self.metadata))
        return decoded

    def _assemble(self, preps: list[_Prepared]) -> list[ImageResult]:
        inputs = [x for p in preps for x in p.inputs]
        decoded = self._infer_all(inputs) if inputs else []
        results, k = [], 0
        for p in preps:
            if p.error is not None:
                results.append(ImageResult(source=p.source, width=p.width, height=p.height,
                                           error=str(p.error), error_type=type(p.error).__name__))
                continue
            faces = []
            for det, crop in p.faces:
                faces.append(FaceResult(box=BoundingBox(det.x, det.y, det.width, det.height), crop_box=crop,
                                        detection_score=det.score, landmarks=det.landmarks, **decoded[k]))
                k += 1
            results.append(ImageResult(source=p.source, faces=faces, width=p.width, height=p.height))
        return results

    # -- public API -----------------------------------------------------------------------
    def predict_iter(self, images: Iterable[ImageInput], colour_order: Optional[str] = None,
                     chunk: int = 64, detector: Optional[FaceDetector] = None) -> Iterator[ImageResult]:
        """Stream results for many images, ``chunk`` images at a time; the next chunk is decoded
        and detected on worker threads while the current chunk's faces are inferred."""
        det = detector or self.detector
        it = iter(enumerate(images))

        def submit_chunk():
            futures = []
            for _ in range(chunk):
                try:
                    i, item = next(it)
                except StopIteration:
                    break
                futures.append(self._pool.submit(self._prepare, i, item, colour_order, det))
            return futures

        pending = submit_chunk()
        while pending:
            preps = [f.result() for f in pending]
            pending = submit_chunk()   # overlap: prepare the next chunk during inference
            yield from self._assemble(preps)

    def predict(self, images: Union[ImageInput, Sequence[ImageInput]], colour_order: Optional[str] = None
                ) -> Union[ImageResult, list[ImageResult]]:
        """One image -> ImageResult; a list/tuple of images -> list of ImageResult (same order).

        Images: file paths, encoded bytes, or numpy arrays (uint8/uint16, gray/3/4 channels) with
        ``colour_order="BGR"`` (OpenCV) or ``"RGB"`` (PIL, scikit-image) given explicitly.
        """
        return self._predict_all(images, colour_order, self.detector)

    def predict_faces(self, crops: Union[ImageInput, Sequence[ImageInput]], colour_order: Optional[str] = None
                      ) -> Union[ImageResult, list[ImageResult]]:
        """Faces already cropped like the training chips (UTKFace / Adience style): no detection,
        each crop is one face."""
        return self._predict_all(crops, colour_order, self._whole)

    def _predict_all(self, images, colour_order: Optional[str], detector: FaceDetector
                     ) -> Union[ImageResult, list[ImageResult]]:
        """One call = one chunk: all faces of all images share the inference batches."""
        single = not isinstance(images, (list, tuple))
        items = [images] if single else list(images)
        if colour_order is not None and colour_order not in ("BGR", "RGB"):
            raise ValueError(f"colour_order must be 'BGR' or 'RGB', not {colour_order!r}")
        check_batch_bytes(items, self.max_batch_bytes)
        results = list(self.predict_iter(items, colour_order, chunk=max(len(items), 1), detector=detector))
        return results[0] if single else results
