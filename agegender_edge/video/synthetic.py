"""Scripted test clips with ground truth: face chips moving, entering, leaving and crossing over
a background, encoded with cv2.VideoWriter (tests, benchmarks/video_bench.py).

Each face follows a straight path between two key positions; faces are drawn in list order, so a
later face passes in front of an earlier one; opaque ``Panel``s are drawn over everything
(occlusions). ``shots`` switch the background at given frames (hard cuts to another place).
The ground truth per frame is every face's box (the chip's square, clipped to the frame) and its
visible fraction (the share of the chip inside the frame and not covered by faces drawn after it
or by a panel); ``label["person"]`` names who a face is (one person may be scripted as several
faces, e.g. before and after a cut).

Faces: UTKFace val chips (``utkface_val_chips``) and LFW dev photos (``lfw_dev_faces``: real
identities, in the wild), each cut to a square chip.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np


@dataclass(frozen=True)
class ScriptedFace:
    chip: np.ndarray                 # BGR face chip (UTKFace-style, square)
    size: int                        # side drawn, pixels
    start: tuple[float, float]       # top-left at ``first_frame``
    end: tuple[float, float]         # top-left at ``last_frame``
    first_frame: int
    last_frame: int
    label: dict = field(default_factory=dict)   # ground truth (gender, age, ...)

    def position(self, frame: int) -> Optional[tuple[int, int]]:
        if not self.first_frame <= frame <= self.last_frame:
            return None
        span = self.last_frame - self.first_frame
        t = 0.0 if span == 0 else (frame - self.first_frame) / span
        return (int(round(self.start[0] + t * (self.end[0] - self.start[0]))),
                int(round(self.start[1] + t * (self.end[1] - self.start[1]))))


@dataclass(frozen=True)
class Panel:
    """An opaque rectangle drawn over the faces on frames ``first_frame..last_frame``."""

    x: int
    y: int
    width: int
    height: int
    first_frame: int
    last_frame: int
    colour: tuple[int, int, int] = (70, 80, 90)


@dataclass(frozen=True)
class TruthBox:
    face: int                        # index into the scene's faces
    box: tuple[float, float, float, float]   # x, y, w, h (clipped to the frame)
    visible: float                   # 0..1 of the chip


def background(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth, textured, face-free background (gradients + blurred noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([90 + 60 * xx / width, 110 + 50 * yy / height, 140 - 40 * xx / width], axis=2)
    noise = cv2.GaussianBlur(rng.normal(0, 40, (height, width, 3)).astype(np.float32), (0, 0), 6)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def render(faces: Sequence[ScriptedFace], n_frames: int, width: int, height: int, seed: int = 0,
           panels: Sequence[Panel] = (), shots: Sequence[int] = ()
           ) -> tuple[list[np.ndarray], list[list[TruthBox]]]:
    """BGR frames and per-frame ground truth. ``shots``: frames where the background changes to
    another place (background seed + shot number), i.e. hard cuts."""
    starts = sorted(set(shots))
    # each shot another place: its own texture, channels rotated and brightness changed
    bgs = [cv2.convertScaleAbs(np.roll(background(width, height, seed + k), k, axis=2), alpha=(1.0, 0.55, 1.35, 0.75)[k % 4])
           for k in range(len(starts) + 1)]
    chips = [cv2.resize(f.chip, (f.size, f.size), interpolation=cv2.INTER_AREA) for f in faces]
    frames, truth = [], []
    for t in range(n_frames):
        img = bgs[sum(1 for s in starts if t >= s)].copy()
        owner = np.full((height, width), -1, dtype=np.int32)   # which face is on top at each pixel
        placed = []
        for k, (f, chip) in enumerate(zip(faces, chips)):
            pos = f.position(t)
            if pos is None:
                continue
            x, y = pos
            x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + f.size), min(height, y + f.size)
            if x0 >= x1 or y0 >= y1:
                continue
            img[y0:y1, x0:x1] = chip[y0 - y:y1 - y, x0 - x:x1 - x]
            owner[y0:y1, x0:x1] = k
            placed.append((k, (x0, y0, x1, y1)))
        for p in panels:
            if p.first_frame <= t <= p.last_frame:
                x0, y0 = max(0, p.x), max(0, p.y)
                x1, y1 = min(width, p.x + p.width), min(height, p.y + p.height)
                if x0 < x1 and y0 < y1:
                    img[y0:y1, x0:x1] = p.colour
                    owner[y0:y1, x0:x1] = -2
        boxes = []
        for k, (x0, y0, x1, y1) in placed:
            visible = float((owner[y0:y1, x0:x1] == k).sum()) / float(faces[k].size ** 2)
            boxes.append(TruthBox(k, (float(x0), float(y0), float(x1 - x0), float(y1 - y0)), visible))
        frames.append(img)
        truth.append(boxes)
    return frames, truth


def write_video(path: Path, frames: Sequence[np.ndarray], fps: float = 24.0, fourcc: Optional[str] = None) -> Path:
    """Encode ``frames`` (BGR) into ``path``: mp4v for .mp4/.mov, MJPG otherwise (.avi)."""
    path = Path(path)
    code = fourcc or ("mp4v" if path.suffix.lower() in (".mp4", ".mov", ".m4v") else "MJPG")
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*code), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: OpenCV cannot write {code} video here")
    try:
        for f in frames:
            writer.write(f)
    finally:
        writer.release()
    return path


def crossing_scene(chips: Sequence[np.ndarray], labels: Sequence[dict], width: int = 352, height: int = 288,
                   n_frames: int = 72, size: int = 80) -> list[ScriptedFace]:
    """Four faces on a 352x288 (CIF) frame: one drifting slowly the whole time, one entering at
    the left edge and leaving at the right, and two crossing (the second passes in front,
    covering most of the first at the crossing)."""
    if len(chips) < 4:
        raise ValueError("crossing_scene needs 4 face chips")
    n = n_frames - 1
    return [
        ScriptedFace(chips[0], size, (width - size - 12, height - size - 4), (width - size - 40, height - size - 4),
                     0, n, dict(labels[0])),
        ScriptedFace(chips[1], size, (-size + 8, 4), (width - 8, 4), 0, n, dict(labels[1])),
        ScriptedFace(chips[2], size, (16, 96), (width - size - 16, 96), 0, n, dict(labels[2])),
        ScriptedFace(chips[3], size, (width - size - 16, 118), (16, 118), 0, n, dict(labels[3])),
    ]


def grid_scene(chips: Sequence[np.ndarray], labels: Sequence[dict], n_faces: int, width: int = 640,
               height: int = 480, n_frames: int = 120, size: int = 110) -> list[ScriptedFace]:
    """``n_faces`` faces (1-6) drifting slowly in a 3 x 2 grid (benchmarks: a steady face count)."""
    if not 1 <= n_faces <= 6 or len(chips) < n_faces:
        raise ValueError("grid_scene takes 1-6 faces and as many chips")
    out = []
    for k in range(n_faces):
        cx = (k % 3 + 0.5) * width / 3.0
        cy = (k // 3 + 0.5) * height / 2.0
        dx = 24 * (1 if k % 2 == 0 else -1)
        out.append(ScriptedFace(chips[k], size, (cx - size / 2 - dx / 2, cy - size / 2),
                                (cx - size / 2 + dx / 2, cy - size / 2 + 12), 0, n_frames - 1, dict(labels[k])))
    return out


def utkface_val_chips(utkface_dir: Path, n_female: int, n_male: int, seed: int = 0, exclude: Sequence[str] = (),
                      min_age: int = 18, max_age: int = 80) -> tuple[list[np.ndarray], list[dict]]:
    """Face chips from the UTKFace val split (``labels.csv`` of the shared data), chosen by seed
    among adults without label conflicts, ``exclude`` (file names) left out; labels carry gender,
    age, the nearest Adience age group and the file name."""
    import csv

    from ..labels import AGE_GROUP_LABELS

    utkface_dir = Path(utkface_dir)
    skip = set(exclude)
    with open(utkface_dir / "labels.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "val" and r["file"] not in skip
                and r["label_conflict"] == "0" and min_age <= int(r["age"]) <= max_age]
    rng = np.random.default_rng(seed)
    chosen = []
    for gender, n in (("female", n_female), ("male", n_male)):
        pool = sorted((r for r in rows if r["gender_name"] == gender), key=lambda r: r["file"])
        chosen += [pool[i] for i in rng.choice(len(pool), n, replace=False)]
    chosen = [chosen[i] for i in rng.permutation(len(chosen))]
    chips = [cv2.imread(str(utkface_dir / "images" / r["file"])) for r in chosen]
    if any(c is None for c in chips):
        raise FileNotFoundError(f"{utkface_dir / 'images'}: a chosen chip cannot be read")
    labels = [{"gender": r["gender_name"], "age": int(r["age"]),
               "age_group": AGE_GROUP_LABELS[int(r["adience_group_nearest"])], "file": r["file"]} for r in chosen]
    return chips, labels


def _square(bgr: np.ndarray, fraction: float = 1.0) -> np.ndarray:
    """The centred square of side ``fraction`` x the shorter side."""
    h, w = bgr.shape[:2]
    side = int(round(min(h, w) * fraction))
    y0, x0 = (h - side) // 2, (w - side) // 2
    return np.ascontiguousarray(bgr[y0:y0 + side, x0:x0 + side])


def lfw_dev_faces(lfw_dir: Path, n_female: int, n_male: int, seed: int = 0) -> tuple[list[np.ndarray], list[dict]]:
    """One photo each of ``n_female + n_male`` different LFW dev identities (``labels.csv``:
    file, identity, gender), chosen by seed, cut to the centred 60 % square (LFW photos are
    250 x 250 with the subject's face in the middle); labels carry gender, identity and file
    (LFW has no ages)."""
    import csv

    lfw_dir = Path(lfw_dir)
    with open(lfw_dir / "labels.csv", newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: r["file"])
    rng = np.random.default_rng(seed)
    chosen = []
    for gender, n in (("F", n_female), ("M", n_male)):
        first = {}
        for r in rows:
            if r["gender"].strip().upper() == gender:
                first.setdefault(r["identity"], r)
        pool = [first[k] for k in sorted(first)]
        chosen += [pool[i] for i in rng.choice(len(pool), n, replace=False)]
    chosen = [chosen[i] for i in rng.permutation(len(chosen))]
    chips = []
    for r in chosen:
        img = cv2.imread(str(lfw_dir / "images" / r["file"]))
        if img is None:
            raise FileNotFoundError(f"{lfw_dir / 'images' / r['file']}: cannot be read")
        chips.append(_square(img, 0.6))
    labels = [{"gender": {"F": "female", "M": "male"}[r["gender"].strip().upper()], "identity": r["identity"],
               "file": r["file"]} for r in chosen]
    return chips, labels
