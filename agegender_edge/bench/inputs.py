"""Real face inputs for model-only timing, at the model's input size.

Sources: a folder of face chips (UTKFace-style crops; each image is one face), a prepared .h5
(``agegender-edge prepare``; needs h5py), or, only when nothing real is available, random
pixels (the report says so). Faces are cycled to fill any batch size.
"""
from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..imageio import DEFAULT_MAX_PIXELS, load_image
from ..metadata import ModelMetadata
from ..preprocess import InputBatch, chip_to_input

IMAGE_PATTERNS = ("*.jpg", "*.jpeg", "*.png", "*.bmp", "*.webp")


@dataclass
class FaceSet:
    """uint8 [N, H, W, 3] network inputs (model colour order) and where they came from."""

    faces: np.ndarray
    source: str
    kind: str   # "folder" | "h5" | "synthetic"

    def __len__(self) -> int:
        return len(self.faces)

    def batch(self, meta: ModelMetadata, batch_size: int, offset: int = 0) -> np.ndarray:
        """An NCHW float32 batch of ``batch_size`` faces (cycled), laid out like the runtime does."""
        buf = InputBatch(meta, batch_size)
        n = len(self.faces)
        for i in range(batch_size):
            buf.add(self.faces[(offset + i) % n])
        return buf.filled


def list_images(folder: Path, limit: Optional[int] = None) -> list[Path]:
    files: list[str] = []
    for pat in IMAGE_PATTERNS:
        files.extend(glob.glob(str(Path(folder) / pat)))
    files = sorted(files)
    return [Path(f) for f in (files[:limit] if limit else files)]


def faces_from_chips(bgr_chips, meta: ModelMetadata) -> np.ndarray:
    return np.stack([chip_to_input(c, meta) for c in bgr_chips])


def load_face_files(files, meta: ModelMetadata) -> FaceSet:
    """Faces from an explicit list of face-chip image files (e.g. the same faces another tool is timed on)."""
    files = [Path(f) for f in files]
    if not files:
        raise FileNotFoundError("empty list of face images")
    chips = [load_image(f, None, DEFAULT_MAX_PIXELS).bgr for f in files]
    return FaceSet(faces_from_chips(chips, meta), f"{len(files)} listed faces ({files[0].parent})", "files")


def load_faces(source: Optional[Path], meta: ModelMetadata, limit: int = 256, split: str = "val",
               seed: int = 0) -> FaceSet:
    """Faces from a folder or .h5 at ``meta``'s input size; random pixels when ``source`` is None."""
    if source is None:
        h, w = meta.input.size
        rng = np.random.default_rng(seed)
        return FaceSet(rng.integers(0, 256, size=(max(1, min(limit, 64)), h, w, 3), dtype=np.uint8),
                       "random pixels (no faces given)", "synthetic")
    source = Path(source)
    if source.is_dir():
        files = list_images(source, limit)
        if not files:
            raise FileNotFoundError(f"{source}: no images (jpg/png/bmp/webp) in this folder")
        chips = [load_image(f, None, DEFAULT_MAX_PIXELS).bgr for f in files]
        return FaceSet(faces_from_chips(chips, meta), f"{source} ({len(files)} faces)", "folder")
    if source.suffix.lower() in (".h5", ".hdf5"):
        images, _labels = read_h5_faces(source, split, limit)
        chips = [im[:, :, ::-1] for im in images]  # .h5 stores RGB
        return FaceSet(faces_from_chips(chips, meta), f"{source} [{split}] ({len(images)} faces)", "h5")
    raise FileNotFoundError(f"{source}: not a folder of face images or a .h5 file")


def read_h5_faces(path: Path, split: Optional[str] = "val", limit: Optional[int] = None):
    """(RGB uint8 [N,S,S,3], labels dict with gender / age_group / age) from a prepared .h5."""
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - only without the train extra
        from ..install_hint import pip_install_extra
        raise ImportError(f"reading .h5 faces needs h5py: {pip_install_extra('train')}") from exc
    with h5py.File(path, "r") as f:
        if split:
            splits = np.asarray([s.decode() if isinstance(s, bytes) else str(s) for s in f["split"][:]])
            idx = np.flatnonzero(splits == split)
            if idx.size == 0:
                raise ValueError(f"{path}: no records in split {split!r}")
        else:
            idx = np.arange(len(f["images"]))
        if limit:
            idx = idx[:limit]
        images = f["images"][idx[0]:idx[-1] + 1][idx - idx[0]]
        labels = {k: f[k][idx[0]:idx[-1] + 1][idx - idx[0]] for k in ("gender", "age_group", "age") if k in f}
    return images, labels
