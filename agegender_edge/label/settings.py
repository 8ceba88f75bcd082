"""What one labelling worker needs to build its Predictor: plain, picklable values only, because the
Ray engine ships them to actors on other machines (a shipped model's name is resolved there)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class PredictorSettings:
    model: Optional[str] = None          # path or shipped name; None = the default model
    backend: str = "auto"
    device: Optional[str] = None
    detector: Optional[str] = "auto"     # a detector spec string, or None for ready-cropped faces
    batch_size: int = 32
    max_faces: int = 64
    max_pixels: Optional[int] = None     # None: the Predictor's default (50 MP)
    workers: Optional[int] = None        # decode / detect threads per Predictor; None: the Predictor's choice
    intra_op_threads: int = 0            # ONNX Runtime threads per Predictor; 0: the Predictor's choice
    min_detection_score: Optional[float] = None   # None: the detector's default

    def build(self):
        """A Predictor with these settings (imports ONNX Runtime / OpenCV here, not before)."""
        from ..backends.onnxruntime import OrtOptions
        from ..imageio import DEFAULT_MAX_PIXELS
        from ..predictor import Predictor
        from .schema import check_age_groups

        threads = {}
        if self.workers is not None:
            threads["workers"] = self.workers
        if self.intra_op_threads:
            # several Predictors share the CPUs under Ray: spinning threads would steal each other's cores
            threads["ort_options"] = OrtOptions(intra_op_threads=self.intra_op_threads, allow_spinning=False)
        predictor = Predictor(model=self.model, backend=self.backend, device=self.device, detector=self.detector,
                              batch_size=self.batch_size, max_faces=self.max_faces,
                              max_pixels=self.max_pixels or DEFAULT_MAX_PIXELS,
                              min_detection_score=self.min_detection_score, **threads)
        try:
            check_age_groups(predictor.metadata.age_groups, str(predictor.model_path))
        except BaseException:
            predictor.close()
            raise
        return predictor


def detector_spec(text: Optional[str]) -> Optional[str]:
    """CLI / API spelling -> Predictor's: 'none' (any case) means no detector."""
    if text is None or text.strip().lower() == "none":
        return None
    return text

