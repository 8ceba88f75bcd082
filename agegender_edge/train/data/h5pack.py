"""Pack face records into ONE .h5 file, streaming in chunks.

Layout (all datasets have the same length N, in record order):
  images     uint8  [N, S, S, 3]  RGB, HWC, chunked by image
  age        float32 [N]          exact age, NaN when only a group is known
  age_group  int8    [N]          0..7, -1 unknown
  gender     int8    [N]          labels.GENDER_LABELS index (0 female, 1 male)
  race       int8    [N]          labels.RACE_LABELS index, -1 unknown
  fold       int8    [N]          Adience fold, -1 otherwise
  split      str     [N]          "train"/"val"/"test"/""
  file       str     [N]          source file name
File attributes: source, image_size, age_groups, gender_labels, race_labels, label_mapping,
kept, dropped (JSON by reason), created_by.
"""
from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

import cv2
import numpy as np

from ...labels import AGE_GROUP_LABELS, GENDER_LABELS, RACE_LABELS
from .records import DropCounter, FaceRecord

CHUNK = 256


@dataclass
class PackSummary:
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_examples: dict[str, list[str]] = field(default_factory=dict)
    per_split: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.kept + sum(self.dropped.values())

    def to_text(self) -> str:
        lines = [f"records seen: {self.total}", f"kept: {self.kept}"]
        for key, n in sorted(self.per_split.items()):
            lines.append(f"  {key or '(no split)'}: {n}")
        for reason, n in sorted(self.dropped.items()):
            ex = ", ".join(self.dropped_examples.get(reason, [])[:3])
            lines.append(f"dropped {reason}: {n}" + (f"  (e.g. {ex})" if ex else ""))
        return "\n".join(lines)


@dataclass(frozen=True)
class Skipped:
    """What a ``pack_h5`` loader returns for a readable image it leaves out, with the reason
    (counted in the .h5's ``dropped`` attribute), e.g. a photo in which no face is found."""

    reason: str


def decode_bgr(path: Path) -> Optional[np.ndarray]:
    """An image file as BGR uint8, or None when it is empty or cannot be decoded."""
    data = np.fromfile(str(path), dtype=np.uint8)
    if data.size == 0:
        return None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return None if img is None or img.size == 0 else img


def load_face(path: Path, size: int) -> Optional[np.ndarray]:
    """Decode an image file to an RGB uint8 size x size array, or None if it cannot be decoded."""
    img = decode_bgr(path)
    if img is None:
        return None
    if img.shape[0] != img.shape[1]:  # centre square: chips are square; other sources are cropped
        s = min(img.shape[:2])
        y0, x0 = (img.shape[0] - s) // 2, (img.shape[1] - s) // 2
        img = img[y0:y0 + s, x0:x0 + s]
    interp = cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_LINEAR
    img = cv2.resize(img, (size, size), interpolation=interp)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _decoded(records: Iterable[FaceRecord], size: int, workers: int,
             loader: Optional[Callable[[Path], Optional[np.ndarray]]] = None
             ) -> Iterator[tuple[FaceRecord, Optional[np.ndarray]]]:
    """Decode in a thread pool (cv2 releases the GIL), keeping order, a bounded window at a time."""
    load = loader or (lambda path: load_face(path, size))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        window: list = []
        for rec in records:
            window.append((rec, pool.submit(load, rec.path)))
            if len(window) >= CHUNK * 2:
                rec0, fut = window.pop(0)
                yield rec0, fut.result()
        for rec0, fut in window:
            yield rec0, fut.result()


def pack_h5(
    records: Iterable[FaceRecord],
    out_path: Path,
    size: int,
    drops: DropCounter,
    source: str,
    label_mapping: dict,
    workers: int = 2,
    progress: bool = True,
    loader: Optional[Callable[[Path], Optional[np.ndarray]]] = None,
    extra_attrs: Optional[Callable[[], dict]] = None,
) -> PackSummary:
    """Stream ``records`` into one .h5. ``loader`` (path -> RGB uint8 size x size, or None when
    unreadable) replaces the default decode + centre square + resize, e.g. the aligned re-cut of
    train/data/aligned.py; ``extra_attrs`` adds attributes once all images are written."""
    import h5py
    from tqdm import tqdm

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = out_path.with_suffix(out_path.suffix + ".partial")
    summary = PackSummary()
    str_dt = h5py.string_dtype()
    with h5py.File(tmp_path, "w") as f:
        images = f.create_dataset("images", shape=(0, size, size, 3), maxshape=(None, size, size, 3),
                                  dtype=np.uint8, chunks=(16, size, size, 3))
        cols = {
            "age": f.create_dataset("age", shape=(0,), maxshape=(None,), dtype=np.float32, chunks=(4096,)),
            "age_group": f.create_dataset("age_group", shape=(0,), maxshape=(None,), dtype=np.int8, chunks=(4096,)),
            "gender": f.create_dataset("gender", shape=(0,), maxshape=(None,), dtype=np.int8, chunks=(4096,)),
            "race": f.create_dataset("race", shape=(0,), maxshape=(None,), dtype=np.int8, chunks=(4096,)),
            "fold": f.create_dataset("fold", shape=(0,), maxshape=(None,), dtype=np.int8, chunks=(4096,)),
            "split": f.create_dataset("split", shape=(0,), maxshape=(None,), dtype=str_dt, chunks=(4096,)),
            "file": f.create_dataset("file", shape=(0,), maxshape=(None,), dtype=str_dt, chunks=(4096,)),
        }
        buf_img: list[np.ndarray] = []
        buf_rec: list[FaceRecord] = []

        def flush() -> None:
            if not buf_img:
                return
            n0, n = images.shape[0], len(buf_img)
            images.resize(n0 + n, axis=0)
            images[n0:] = np.stack(buf_img)
            values = {
                "age": [r.age for r in buf_rec], "age_group": [r.age_group for r in buf_rec],
                "gender": [r.gender for r in buf_rec], "race": [r.race for r in buf_rec],
                "fold": [r.fold for r in buf_rec], "split": [r.split for r in buf_rec],
                "file": [r.source_name for r in buf_rec],
            }
            for key, ds in cols.items():
                ds.resize(n0 + n, axis=0)
                ds[n0:] = values[key]
            buf_img.clear()
            buf_rec.clear()

        for rec, img in tqdm(_decoded(records, size, workers, loader), desc=f"packing {out_path.name}",
                             unit="img", disable=not progress):
            if img is None or isinstance(img, Skipped):
                drops.add("unreadable_image" if img is None else img.reason, rec.source_name)
                continue
            buf_img.append(img)
            buf_rec.append(rec)
            summary.kept += 1
            key = rec.split if rec.fold < 0 else f"fold_{rec.fold}"
            summary.per_split[key] = summary.per_split.get(key, 0) + 1
            if len(buf_img) >= CHUNK:
                flush()
        flush()
        summary.dropped = dict(drops.counts)
        summary.dropped_examples = {k: list(v) for k, v in drops.examples.items()}
        f.attrs.update({
            "source": source,
            "image_size": size,
            "colour_order": "RGB",
            "age_groups": json.dumps(list(AGE_GROUP_LABELS)),
            "gender_labels": json.dumps(list(GENDER_LABELS)),
            "race_labels": json.dumps(list(RACE_LABELS)),
            "label_mapping": json.dumps(label_mapping),
            "kept": summary.kept,
            "dropped": json.dumps(summary.dropped),
            "created_by": "agegender-edge prepare",
        })
        if extra_attrs is not None:
            f.attrs.update(extra_attrs())
    tmp_path.replace(out_path)
    return summary


@dataclass
class FaceArrays:
    """An .h5 (or a subset of it) in memory: used by training and evaluation."""

    images: np.ndarray      # uint8 [N, S, S, 3] RGB
    age: np.ndarray         # float32 [N]
    age_group: np.ndarray   # int64 [N]
    gender: np.ndarray      # int64 [N]
    race: np.ndarray        # int64 [N]
    files: list[str]

    def __len__(self) -> int:
        return len(self.gender)


def read_h5(path: Path, split: Optional[str] = None, folds: Optional[set[int]] = None,
            limit: Optional[int] = None) -> FaceArrays:
    """Load the rows of one split (or folds) of a packed .h5 into memory."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such .h5 file (create it with 'agegender-edge prepare')")
    with h5py.File(path, "r") as f:
        n = f["gender"].shape[0]
        mask = np.ones(n, dtype=bool)
        if split is not None:
            mask &= np.array([s.decode() if isinstance(s, bytes) else s for s in f["split"][:]]) == split
        if folds is not None:
            mask &= np.isin(f["fold"][:], sorted(folds))
        idx = np.flatnonzero(mask)
        if limit is not None:
            idx = idx[:limit]
        # h5py fancy indexing wants increasing indices; idx is sorted. Read contiguous blocks fast.
        images = np.empty((len(idx),) + f["images"].shape[1:], dtype=np.uint8)
        for start in range(0, len(idx), 2048):
            sel = idx[start:start + 2048]
            lo, hi = sel[0], sel[-1] + 1
            block = f["images"][lo:hi]
            images[start:start + len(sel)] = block[sel - lo]
        files = [s.decode() if isinstance(s, bytes) else s for s in f["file"][:][idx]]
        return FaceArrays(
            images=images,
            age=f["age"][:][idx].astype(np.float32),
            age_group=f["age_group"][:][idx].astype(np.int64),
            gender=f["gender"][:][idx].astype(np.int64),
            race=f["race"][:][idx].astype(np.int64),
            files=files,
        )


def concat_faces(parts: list[FaceArrays], limit: Optional[int] = None) -> FaceArrays:
    """Several FaceArrays (e.g. the same split of two .h5 files) as one, optionally the first
    ``limit`` rows; file names must be unique across the parts (teacher targets match by name)."""
    if len(parts) == 1:
        out = parts[0]
    else:
        sizes = {p.images.shape[1:] for p in parts if len(p)}
        if len(sizes) > 1:
            raise ValueError(f"data files hold different image sizes {sorted(sizes)}")
        files = [f for p in parts for f in p.files]
        if len(set(files)) != len(files):
            raise ValueError("data files share file names: rows could not be told apart")
        out = FaceArrays(images=np.concatenate([p.images for p in parts]),
                         age=np.concatenate([p.age for p in parts]),
                         age_group=np.concatenate([p.age_group for p in parts]),
                         gender=np.concatenate([p.gender for p in parts]),
                         race=np.concatenate([p.race for p in parts]), files=files)
    if limit is not None and len(out) > limit:
        out = FaceArrays(out.images[:limit], out.age[:limit], out.age_group[:limit], out.gender[:limit],
                         out.race[:limit], out.files[:limit])
    return out

