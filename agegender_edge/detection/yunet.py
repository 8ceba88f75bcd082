"""YuNet (OpenCV Zoo, MIT): faster and more accurate than Haar, and it gives the five landmarks
that landmark alignment (align.py) needs.

Two runtimes for the same ONNX file, with the same pre- and post-processing:
- ``onnxruntime`` (default): the network on an ONNX Runtime session (one intra-op thread, called
  from each prep worker), decoded and NMS-filtered by ``decode_yunet`` -- a numpy transcription of
  OpenCV's FaceDetectorYN::postProcess (modules/objdetect/src/face_detect.cpp). ORT runs this
  network 2.5x faster than OpenCV's DNN module on a 640x480 photo (5.4 vs 13.7 ms CPU time per
  call on this project's 2-core Xeon, measured), and detection is the costliest stage on photos.
- ``opencv``: ``cv2.FaceDetectorYN`` itself (what the C++ runtime uses). Both give the same faces;
  boxes and landmarks agree to float rounding (tests/detection/test_yunet_runtimes.py).

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
YUNET_RUNTIMES = ("onnxruntime", "opencv")
_STRIDES = (8, 16, 32)
_DIVISOR = 32                 # the network's input sides must be multiples of 32 (zero padding)
# Sideways faces. YuNet is trained on upright faces: on 300 LFW photos turned by 90 degrees it
# found 8.5% of the faces, all with scores <= 0.85 and landmarks in an upright layout (wrong),
# while upright LFW subjects score >= 0.90 (1st percentile 0.904). So when an image has no face
# scoring CONFIDENT_UPRIGHT or more, it is also searched turned by 90 and 270 degrees; the
# detections of all passes, in the image's own coordinates, go through one NMS, where a face seen
# upright in a turned copy outscores its sideways detection. Its landmarks are then right, and
# the similarity alignment turns the crop upright. Images with a confident upright face pay
# nothing; images without one pay two more detections.
CONFIDENT_UPRIGHT = 0.88
# The lowest score a YuNet detection must have to count as a face (every pass of the rotation
# search included). OpenCV's default is 0.6; at 0.6, photos without a person gave false faces
# (a cat at 0.60-0.61, a galaxy field at 0.69-0.76 depending on its encoding). Chosen on data
# by benchmarks/detection_threshold.py: the middle of the gap between the highest false-face
# score on 10 scikit-image photos without people (as arrays, PNG and JPEG: 0.7646) and the lowest
# subject score on the LFW dev set and the UTKFace val chips (0.7903): no false face there, no
# subject lost (benchmarks/results/detection_threshold.json, docs/ERRORS.md).
DEFAULT_MIN_SCORE = 0.78
SHIPPED_YUNET = Path(__file__).parent / "data" / "face_detection_yunet_2026may.onnx"


def yunet_path_from_env() -> Optional[Path]:
    value = os.environ.get(YUNET_ENV)
    return Path(value) if value else None


class YuNetDetector(FaceDetector):
    name = "yunet"
    # measured on 300 UTKFace val chips (benchmarks/calibrate_detectors.py): YuNet finds all
    # 300; its box is ~0.87 x 0.96 of the chip, nearly centred
    calibration = ChipCalibration(scale=1.094, dx=-0.006, dy=0.019)

    default_min_score = DEFAULT_MIN_SCORE

    def __init__(self, model_path: Optional[str] = None, score_threshold: Optional[float] = None,
                 nms_threshold: float = 0.3, runtime: str = "onnxruntime", rotation_search: bool = True,
                 **kwargs):
        # score_threshold (YuNet's own name) and min_score (every detector's) are one setting
        if score_threshold is not None and kwargs.get("min_score") is None:
            kwargs["min_score"] = score_threshold
        super().__init__(**kwargs)
        if runtime not in YUNET_RUNTIMES:
            raise ValueError(f"unknown YuNet runtime {runtime!r}; use one of {', '.join(YUNET_RUNTIMES)}")
        path = Path(model_path) if model_path else (yunet_path_from_env() or SHIPPED_YUNET)
        if not path.is_file():
            raise ModelError(f"{path}: YuNet model file not found")
        self.path = path
        self.runtime = runtime
        self.rotation_search = rotation_search
        self.score_threshold = self.min_score   # candidates below it are never decoded
        self.nms_threshold = nms_threshold
        self._local = threading.local()  # FaceDetectorYN keeps per-size state: one per thread
        self._session = None             # an ORT session is safe to call from several threads
        if runtime == "onnxruntime":
            self._session = self._ort_session()
            self._input_name = self._session.get_inputs()[0].name
        else:
            self._net((320, 320))  # fail early on a bad file

    def _ort_session(self):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        # detection runs on the prep workers, one call per worker at a time: one thread each
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.enable_mem_pattern = False      # input sizes vary from photo to photo
        opts.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own Fail / InvalidProtobuf / InvalidGraph types
            raise ModelError(f"{self.path}: ONNX Runtime cannot load this YuNet model ({exc})") from exc
        outputs = {o.name for o in session.get_outputs()}
        missing = [n for n in _OUTPUT_NAMES if n not in outputs]
        if missing:
            raise ModelError(f"{self.path}: not a YuNet model (outputs {', '.join(missing)} missing)")
        return session

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
        found = self._detect_upright(bgr)
        # a face is "confident" only if it is also kept (a min_score above CONFIDENT_UPRIGHT)
        confident = max(CONFIDENT_UPRIGHT, self.score_threshold)
        if not self.rotation_search or any(d.score >= confident for d in found):
            return found
        h, w = bgr.shape[:2]
        for k in (1, 3):   # np.rot90: k = 1 turns counter-clockwise, k = 3 clockwise
            turned = np.ascontiguousarray(np.rot90(bgr, k))
            found += [_turn_back(d, k, w, h) for d in self._detect_upright(turned)]
        if len(found) < 2:
            return found
        keep = _nms([(d.x, d.y, d.width, d.height) for d in found], [d.score for d in found],
                    self.score_threshold, self.nms_threshold)
        return [found[i] for i in keep]

    def _detect_upright(self, bgr: np.ndarray) -> list[Detection]:
        h, w = bgr.shape[:2]
        if self._session is not None:
            pad_h, pad_w = -(-h // _DIVISOR) * _DIVISOR, -(-w // _DIVISOR) * _DIVISOR
            padded = cv2.copyMakeBorder(bgr, 0, pad_h - h, 0, pad_w - w, cv2.BORDER_CONSTANT, value=0)
            blob = cv2.dnn.blobFromImage(padded)          # BGR, 0-255, NCHW float32: as OpenCV
            outs = dict(zip(_OUTPUT_NAMES, self._session.run(_OUTPUT_NAMES, {self._input_name: blob})))
            faces = decode_yunet(outs, pad_h, pad_w, self.score_threshold, self.nms_threshold)
        else:
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
        return (f"yunet ({self.path.name}, {self.runtime}{', rotation search' if self.rotation_search else ''}, "
                f"min score {self.score_threshold:g})")


def _turn_back(d: Detection, k: int, w: int, h: int) -> Detection:
    """A detection in np.rot90(image, k) (k = 1 or 3) -> the same face in the image of size
    (w, h), continuous pixel coordinates; the box stays axis-aligned around the face."""
    if k == 1:        # rotated (x', y') = (y, w - x)
        point = lambda x, y: (w - y, x)                                       # noqa: E731
        x0, y0 = w - (d.y + d.height), d.x
    else:             # k == 3: rotated (x', y') = (h - y, x)
        point = lambda x, y: (y, h - x)                                       # noqa: E731
        x0, y0 = d.y, h - (d.x + d.width)
    marks = tuple(point(x, y) for x, y in d.landmarks) if d.landmarks else None
    return Detection(x0, y0, d.height, d.width, d.score, marks)


_OUTPUT_NAMES = [f"{kind}_{s}" for kind in ("cls", "obj", "bbox", "kps") for s in _STRIDES]


def decode_yunet(outs: dict[str, np.ndarray], pad_h: int, pad_w: int, score_threshold: float,
                 nms_threshold: float, top_k: int = 5000) -> Optional[np.ndarray]:
    """YuNet outputs -> [N, 15] faces (x, y, w, h, 5 landmark x/y pairs, score) like
    cv2.FaceDetectorYN.detect, or None when there is none. Per stride s, cell (r, c):
    score = sqrt(clip(cls) * clip(obj)); centre = ((c, r) + bbox[:2]) * s; size = exp(bbox[2:]) * s;
    landmark = ((c, r) + kps) * s; then NMS on integer boxes, as OpenCV does."""
    rows = []
    for s in _STRIDES:
        rs, cs = pad_h // s, pad_w // s
        cls = np.clip(outs[f"cls_{s}"].reshape(-1), 0.0, 1.0)
        obj = np.clip(outs[f"obj_{s}"].reshape(-1), 0.0, 1.0)
        score = np.sqrt(cls * obj)
        keep = np.flatnonzero(score >= score_threshold)
        if keep.size == 0:
            continue
        cell = np.stack([keep % cs, keep // cs], axis=1).astype(np.float32)       # (c, r)
        bbox = outs[f"bbox_{s}"].reshape(rs * cs, 4)[keep]
        kps = outs[f"kps_{s}"].reshape(rs * cs, 5, 2)[keep]
        centre = (cell + bbox[:, :2]) * s
        size = np.exp(bbox[:, 2:]) * s
        marks = (cell[:, None, :] + kps) * s
        rows.append(np.concatenate([centre - size / 2, size, marks.reshape(-1, 10), score[keep, None]], axis=1))
    if not rows:
        return None
    faces = np.concatenate(rows).astype(np.float32)
    if len(faces) > 1:
        faces = faces[_nms(faces[:, :4].tolist(), faces[:, 14].tolist(), score_threshold, nms_threshold, top_k)]
    return faces


def _nms(boxes, scores, score_threshold: float, nms_threshold: float, top_k: int = 0) -> np.ndarray:
    """Indices kept by OpenCV's NMS, best first, on boxes (x, y, w, h) truncated to integers
    like the Rect2i that FaceDetectorYN builds."""
    keep = cv2.dnn.NMSBoxes([tuple(int(v) for v in b) for b in boxes], scores, score_threshold,
                            nms_threshold, 1.0, top_k)
    return np.asarray(keep, dtype=np.int64).reshape(-1)
