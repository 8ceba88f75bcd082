"""Calibration faces for INT8: a packed .h5 (a split, evenly spaced rows) or a folder of face chips.

Each face becomes the network input exactly as at run time: UTKFace-style chip -> resize to
``crop.resize_to`` -> centre crop ``input.size`` in the model's colour order, float32 NCHW 0-255.
Calibration must come from the TRAIN split: the val split is what the INT8 model is scored on.
"""
from __future__ import annotations

import glob
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from ..metadata import ModelMetadata


def _centre_crop_nchw(images_hwc_rgb: np.ndarray, meta: ModelMetadata, aligned: bool = False) -> np.ndarray:
    """uint8 [N,S,S,3] RGB chips at crop.resize_to -> float32 [N,3,H,W] in the model's order.
    ``aligned``: crops cut by the landmark alignment (``prepare --align``) are stored at the
    input size plus a margin and already framed as the network input: centre crop only."""
    import cv2

    r = images_hwc_rgb.shape[1] if aligned else meta.crop.resize_to
    if images_hwc_rgb.shape[1] != r:
        interp = cv2.INTER_AREA if images_hwc_rgb.shape[1] > r else cv2.INTER_LINEAR
        images_hwc_rgb = np.stack([cv2.resize(im, (r, r), interpolation=interp) for im in images_hwc_rgb])
    h, w = meta.input.size
    y0, x0 = (r - h) // 2, (r - w) // 2
    x = images_hwc_rgb[:, y0:y0 + h, x0:x0 + w]
    if meta.input.colour_order == "BGR":
        x = x[..., ::-1]
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)).astype(np.float32)


def faces_from_h5(path: Path, meta: ModelMetadata, split: str = "train", count: int = 512,
                  seed: int = 0) -> np.ndarray:
    """``count`` faces of ``split``, spread over the whole split (a seeded random subset)."""
    import h5py

    with h5py.File(path, "r") as f:
        splits = np.array([s.decode() if isinstance(s, bytes) else s for s in f["split"][:]])
        rows = np.flatnonzero(splits == split)
        if rows.size == 0:
            raise ValueError(f"{path}: no rows in split {split!r}")
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(rows, size=min(count, rows.size), replace=False))
        images = f["images"][pick]  # increasing indices: h5py fancy read
        aligned = "align" in f.attrs
    return _centre_crop_nchw(images, meta, aligned)


def faces_from_folder(folder: Path, meta: ModelMetadata, count: int = 512) -> np.ndarray:
    from ..imageio import DEFAULT_MAX_PIXELS, load_image
    from ..preprocess import chip_to_input

    files = sorted(glob.glob(str(Path(folder) / "*.jpg")) + glob.glob(str(Path(folder) / "*.png")))[:count]
    if not files:
        raise ValueError(f"{folder}: no .jpg/.png face chips for calibration")
    faces = [chip_to_input(load_image(f, None, DEFAULT_MAX_PIXELS).bgr, meta) for f in files]
    return np.ascontiguousarray(np.stack(faces).transpose(0, 3, 1, 2)).astype(np.float32)


def load_calibration(source: Path, meta: ModelMetadata, count: int = 512, split: str = "train") -> np.ndarray:
    source = Path(source)
    if source.is_dir():
        return faces_from_folder(source, meta, count)
    if source.suffix.lower() in (".h5", ".hdf5"):
        return faces_from_h5(source, meta, split, count)
    raise ValueError(f"{source}: calibration source must be a packed .h5 or a folder of face chips")


def batches(x: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    for s in range(0, len(x), batch_size):
        yield x[s:s + batch_size]


class ArrayCalibrationReader:
    """onnxruntime.quantization.CalibrationDataReader over an in-memory array."""

    def __init__(self, x: np.ndarray, input_name: str, batch_size: int = 32):
        self.x, self.input_name, self.batch_size = x, input_name, batch_size
        self._it: Optional[Iterator[np.ndarray]] = None
        self.rewind()

    def get_next(self):
        b = next(self._it, None)
        return None if b is None else {self.input_name: b}

    def rewind(self) -> None:
        self._it = batches(self.x, self.batch_size)

    def __len__(self) -> int:
        return (len(self.x) + self.batch_size - 1) // self.batch_size
