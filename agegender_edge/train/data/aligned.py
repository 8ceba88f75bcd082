"""Train as you serve: re-cut face chips through the runtime's detector and landmark alignment.

Each UTKFace chip is zero-padded (so YuNet sees the whole face with some context, as it does in a
photo), YuNet runs on it exactly as ``Predictor`` runs it, the subject's five landmarks go through
``align.align_landmarks`` with the model's ``AlignSpec`` — the same function the runtime calls —
and the result is stored at ``crop.resize_to`` (112) with the template shifted by the crop margin
((112 - 96) / 2 = 8 px), so the evaluation centre crop of 96 px is bit-for-bit the runtime's
aligned input, and random crops / affine jitter around it are the training augmentation.

Chips where YuNet finds no subject keep the box rule (the chip resized to 112 px), which is what
the runtime does for faces without landmarks; they are counted and listed in the .h5 attributes.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import cv2
import numpy as np

from ...align import align_landmarks
from ...metadata import AlignSpec, CropSpec, InputSpec
from ...subject import subject_index
from .h5pack import Skipped, decode_bgr

# Median YuNet landmarks on 1,500 UTKFace train chips (detected on the chip zero-padded by 50 px),
# in units of the 200 px chip, mirror-symmetrised (left/right pairs averaged) so that flipping an
# aligned face gives an aligned face. Order: right eye, left eye, nose, right / left mouth corner
# (as seen in the image). Reproduce: python training/measure_template.py
UTKFACE_YUNET_TEMPLATE_CHIP = (
    (0.298734, 0.287172), (0.701266, 0.287172), (0.5, 0.520785), (0.328604, 0.675095), (0.671396, 0.675095),
)


def alignment_spec(input_spec: InputSpec, crop: CropSpec,
                   chip_template=UTKFACE_YUNET_TEMPLATE_CHIP, input_template=None) -> AlignSpec:
    """The AlignSpec whose template (in network-input units) puts the landmarks where they sit in
    a UTKFace chip after the training crop rule (resize to ``crop.resize_to``, centre crop);
    ``input_template`` (already in network-input units, an architecture's own convention such as
    dlib's chip: ArchSpec.align_template) is taken as it is."""
    if input_template is not None:
        return AlignSpec(template=tuple((float(x), float(y)) for x, y in input_template))
    h, w = input_spec.size
    r = crop.resize_to
    pad_x, pad_y = (r - w) / 2.0, (r - h) / 2.0
    template = tuple((round((x * r - pad_x) / w, 6), round((y * r - pad_y) / h, 6)) for x, y in chip_template)
    return AlignSpec(template=template)


def subject_detection(detections, width: int, height: int):
    """The subject among detections (agegender_edge/subject.py's rule), or None."""
    i = subject_index([(d.x, d.y, d.width, d.height) for d in detections], width, height)
    return None if i is None else detections[i]


@dataclass
class AlignedChipLoader:
    """Callable for ``pack_h5``: path -> RGB uint8 [resize_to, resize_to, 3] or None.

    Thread-safe (the YuNet detector keeps one network per thread)."""

    spec: AlignSpec
    input_size: tuple[int, int]
    resize_to: int
    detector_path: Optional[str] = None
    pad_fraction: float = 0.25
    # True: a face chip without a detected subject keeps the box rule (the whole chip resized),
    # as the runtime does for ready chips; False (photos and head crops such as AAF, where the
    # whole image is not a face chip): such an image is skipped and counted.
    box_rule_fallback: bool = True
    aligned: int = 0
    fallback: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _detector: object = field(default=None, repr=False)

    def __post_init__(self) -> None:
        from ...detection.yunet import YuNetDetector
        self._detector = YuNetDetector(self.detector_path, max_side=0, max_faces=16)

    def __call__(self, path: Path) -> Union[np.ndarray, Skipped, None]:
        bgr = decode_bgr(path)
        if bgr is None:
            return None
        out = self.cut(bgr)
        with self._lock:
            if out is None:
                self.fallback.append(Path(path).name)
            else:
                self.aligned += 1
        if out is None and not self.box_rule_fallback:
            return Skipped("no_subject_face")
        if out is None:  # no subject found: the runtime's box rule for a ready chip
            interp = cv2.INTER_AREA if bgr.shape[0] > self.resize_to else cv2.INTER_LINEAR
            out = cv2.resize(bgr, (self.resize_to, self.resize_to), interpolation=interp)
        return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)

    def cut(self, bgr: np.ndarray) -> Optional[np.ndarray]:
        """The aligned training crop (BGR) of the chip's subject, or None when YuNet misses it."""
        h, w = bgr.shape[:2]
        p = int(round(self.pad_fraction * max(h, w)))
        padded = cv2.copyMakeBorder(bgr, p, p, p, p, cv2.BORDER_CONSTANT, value=(0, 0, 0)) if p else bgr
        det = subject_detection(self._detector.detect(padded), w + 2 * p, h + 2 * p)
        if det is None or not det.landmarks:
            return None
        landmarks = [(x - p, y - p) for x, y in det.landmarks]
        margin = (self.resize_to - self.input_size[1]) // 2
        got = align_landmarks(bgr, landmarks, self.spec, self.input_size, pad=margin)
        return None if got is None else got[0]
