"""Five-point landmark alignment, as described by the model metadata (``metadata.AlignSpec``).

One definition, used at training time (training faces are re-cut through it, see
``train/data/aligned.py``) and at run time (``Predictor``); the C++ runtime
(cpp/src/preprocess.cpp) does the same arithmetic in double precision:

1. ``similarity_transform``: the least-squares similarity (Umeyama 1991, no reflection) mapping
   the five detected landmarks onto the template points in output pixels.
2. ``warp_face``: one ``cv2.warpAffine`` straight to the output size. When the transform shrinks
   by more than 2x (a large face in a phone photo), bilinear sampling would alias, so the face's
   footprint is first reduced by the integer factor ``n = floor(1 / scale)`` with INTER_AREA
   (exact n x n box averaging) and the transform is rewritten for the reduced pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np

from .metadata import AlignSpec

_BORDER = {"replicate": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT}
_INTERP = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}


@dataclass(frozen=True)
class AlignedCrop:
    """Where an aligned face came from: ``matrix`` maps source pixels to output pixels."""

    matrix: np.ndarray          # 2x3 float64
    scale: float                # output pixels per source pixel
    centre: tuple[float, float]  # source coordinates of the output centre
    side: float                 # source pixels spanned by the output width


def template_pixels(spec: AlignSpec, size: tuple[int, int], pad: int = 0) -> np.ndarray:
    """Template points in output pixels for an output of ``size`` (h, w) of the network input,
    optionally surrounded by ``pad`` pixels on every side (training chips: 96 + 2 x 8 = 112)."""
    h, w = size
    t = np.asarray(spec.template, dtype=np.float64).reshape(5, 2)
    return t * np.array([w, h], dtype=np.float64) + pad


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> Optional[np.ndarray]:
    """2x3 least-squares similarity mapping ``src`` points onto ``dst`` (both N x 2); None when
    the source points are degenerate (all on one spot) or not finite."""
    src = np.asarray(src, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(dst, dtype=np.float64).reshape(-1, 2)
    if not (np.isfinite(src).all() and np.isfinite(dst).all()):
        return None
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    var_s = (s0 ** 2).sum() / len(src)
    if var_s < 1e-6:
        return None
    cov = d0.T @ s0 / len(src)
    # closed form for 2-D: rotation angle and scale from the summed dot / cross products
    a = cov[0, 0] + cov[1, 1]
    b = cov[1, 0] - cov[0, 1]
    norm = math.hypot(a, b)
    if norm < 1e-12:
        return None
    scale = norm / var_s
    c, s = a / norm, b / norm
    r = np.array([[c, -s], [s, c]]) * scale
    t = mu_d - r @ mu_s
    return np.hstack([r, t[:, None]])


def describe_crop(matrix: np.ndarray, size: tuple[int, int]) -> AlignedCrop:
    h, w = size
    scale = float(math.hypot(matrix[0, 0], matrix[1, 0]))
    inv = cv2.invertAffineTransform(matrix)
    cx, cy = inv @ np.array([w / 2.0, h / 2.0, 1.0])
    return AlignedCrop(matrix=matrix, scale=scale, centre=(float(cx), float(cy)), side=w / scale)


def warp_face(bgr: np.ndarray, matrix: np.ndarray, size: tuple[int, int], spec: AlignSpec,
              out: Optional[np.ndarray] = None) -> np.ndarray:
    """The aligned face: ``size`` (h, w) uint8, 3 channels, in the source's channel order."""
    h, w = size
    m = np.asarray(matrix, dtype=np.float64)
    scale = math.hypot(m[0, 0], m[1, 0])
    src = bgr
    if spec.antialias and scale < 0.5:
        n = int(math.floor(1.0 / scale))
        src, m = _reduce_footprint(bgr, m, (h, w), n)
    flags = _INTERP[spec.interpolation]
    border = _BORDER[spec.border]
    if out is not None:
        return cv2.warpAffine(src, m, (w, h), dst=out, flags=flags, borderMode=border, borderValue=(0, 0, 0))
    return cv2.warpAffine(src, m, (w, h), flags=flags, borderMode=border, borderValue=(0, 0, 0))


def _reduce_footprint(bgr: np.ndarray, m: np.ndarray, size: tuple[int, int], n: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Box-average (INTER_AREA, integer factor ``n``) the part of the image the warp samples
    and return it with the transform rewritten for its pixels.

    A reduced pixel u covers source pixels [x0 + n*u, x0 + n*u + n), whose centre is
    x = x0 + n*u + (n - 1) / 2; so output = M @ (n*u + x0 + (n-1)/2) = M' @ u."""
    h, w = size
    ih, iw = bgr.shape[:2]
    inv = cv2.invertAffineTransform(m)
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], dtype=np.float64) @ inv.T
    x0 = max(0, int(math.floor(corners[:, 0].min())) - n)
    y0 = max(0, int(math.floor(corners[:, 1].min())) - n)
    x1 = min(iw, int(math.ceil(corners[:, 0].max())) + n)
    y1 = min(ih, int(math.ceil(corners[:, 1].max())) + n)
    rw, rh = (x1 - x0) // n, (y1 - y0) // n
    if rw < 1 or rh < 1:  # the footprint lies outside the image: nothing to reduce
        return bgr, m
    roi = bgr[y0:y0 + rh * n, x0:x0 + rw * n]
    small = cv2.resize(roi, (rw, rh), interpolation=cv2.INTER_AREA)
    lin = m[:, :2] * n
    off = m[:, :2] @ np.array([x0 + (n - 1) / 2.0, y0 + (n - 1) / 2.0]) + m[:, 2]
    return small, np.hstack([lin, off[:, None]])


def align_landmarks(bgr: np.ndarray, landmarks: Sequence[Sequence[float]], spec: AlignSpec,
                    size: tuple[int, int], pad: int = 0, out: Optional[np.ndarray] = None
                    ) -> Optional[tuple[np.ndarray, AlignedCrop]]:
    """Aligned face of ``size`` + 2 * ``pad`` for one set of five landmarks, with where it came
    from; None when the landmarks are unusable (the caller falls back to the box rule)."""
    if landmarks is None or len(landmarks) != 5:
        return None
    full = (size[0] + 2 * pad, size[1] + 2 * pad)
    matrix = similarity_transform(np.asarray(landmarks, dtype=np.float64), template_pixels(spec, size, pad))
    if matrix is None:
        return None
    return warp_face(bgr, matrix, full, spec, out=out), describe_crop(matrix, full)
