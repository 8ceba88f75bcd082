"""YuNet (OpenCV Zoo, MIT) through ``cv2.FaceDetectorYN``: faster and more accurate than Haar,
and it gives the five landmarks that landmark alignment (align.py) needs.

The 230 KB ONNX file ships inside the package (detection/data/, with its MIT licence and
provenance); another file can be given as a path or through $AGEGENDER_EDGE_YUNET.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from ..errors import ModelError
from .base import ChipCalibration, Detection, FaceDetector

YUNET_ENV = "AGEGENDER_EDGE_YUNET"
SHIPPED_YUNET = Path(__file__).parent / "data" / "face_detection_yunet_2026may.onnx"


def yunet_path_from_env() -> Optional[Path]:
    value = os.environ.get(YUNET_ENV)
    return Path(value) if value else None


class YuNetDetector(FaceDetector):
    name = "yunet"
    # measured on 300 UTKFace val chips (benchmarks/calibrate_detectors.py): YuNet finds all
    # 300; its box is ~0.87 x 0.96 of the chip, nearly centred
    calibration = ChipCalibration(scale=1.094, dx=-0.006, dy=0.019)

    def __init__(self, model_path: Optional[str] = None, score_threshold: float = 0.6,
                 nms_threshold: float = 0.3, **kwargs):
        super().__init__(**kwargs)
        path = Path(model_path) if model_path else (yunet_path_from_env() or SHIPPED_YUNET)
        if not path.is_file():
            raise ModelError(f"{path}: YuNet model file not found")
        self.path = path
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self._local = threading.local()  # FaceDetectorYN keeps per-size state: one per thread
        self._net((320, 320))  # fail early on a bad file

    def _net(self, size: tuple[int, int]):
        net = getattr(self._local, "net", None)
        if net is None:
            try:
                net = cv2.FaceDetectorYN.create(str(self.path), "", size, self.score_threshold,
                                                self.nms_threshold, 5000)
            except cv2.error as exc:
                raise ModelError(f"{self.path}: OpenCV cannot load this YuNet model ({exc.msg.strip()})") from exc
            self._local.net = net
        net.setInputSize(size)
        return net

    def _detect_one(self, bgr: np.ndarray) -> list[Detection]:
        h, w = bgr.shape[:2]
        _n, faces = self._net((w, h)).detect(bgr)
        out = []
        if faces is None:
            return out
        for f in faces:
            x, y, bw, bh = (float(v) for v in f[:4])
            kps = tuple((float(f[4 + 2 * i]), float(f[5 + 2 * i])) for i in range(5))
            out.append(Detection(x, y, bw, bh, float(f[14]), kps))
        return out

    def describe(self) -> str:
        return f"yunet ({self.path.name})"
