"""Adience fold files: ``fold_{0..4}_data.txt`` (TSV) plus an image root.

Every age label that occurs in the published files is mapped explicitly; see ``map_adience_age``.
Folds are kept as published (they are subject-disjoint by construction).
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Iterator, Optional

from ...labels import AGE_GROUPS, GENDER_LABELS, age_to_group_nearest
from .records import DropCounter, FaceRecord

FOLD_COLUMNS = ("user_id", "original_image", "face_id", "age", "gender")
_RANGE = re.compile(r"^\(\s*(\d+)\s*,\s*(\d+)\s*\)$")
_GROUP_OF_RANGE = {f"({lo}, {hi})": i for i, (lo, hi) in enumerate(AGE_GROUPS)}


class FoldFileError(ValueError):
    """A fold file is malformed; the message names the file and line."""


def map_adience_age(label: str) -> tuple[Optional[int], float]:
    """Map an Adience age label to (group index or None, exact age or NaN).

    - the 8 published ranges map to their group;
    - off-grid ranges such as ``(38, 42)``, ``(38, 48)``, ``(27, 32)``, ``(8, 23)``, ``(25, 23)``
      map to the group nearest to the range's midpoint (same rule as exact ages);
    - a single number (``2`` .. ``58``) is an exact age: kept, and mapped to its nearest group;
    - ``None`` / empty -> (None, NaN): the caller drops the face and counts it.
    """
    text = label.strip()
    if text in ("", "None"):
        return None, math.nan
    if text in _GROUP_OF_RANGE:
        return _GROUP_OF_RANGE[text], math.nan
    m = _RANGE.match(text)
    if m:
        lo, hi = sorted((int(m.group(1)), int(m.group(2))))
        return age_to_group_nearest((lo + hi) / 2.0), math.nan
    if text.isdigit():
        age = float(text)
        return age_to_group_nearest(age), age
    raise ValueError(f"unrecognised Adience age label {label!r}")


def map_adience_gender(label: str) -> Optional[int]:
    text = label.strip().lower()
    if text == "f":
        return GENDER_LABELS.index("female")
    if text == "m":
        return GENDER_LABELS.index("male")
    return None  # 'u' and empty: unknown


def _image_candidates(root: Path, user_id: str, face_id: str, original: str) -> list[Path]:
    aligned = f"landmark_aligned_face.{face_id}.{original}"
    coarse = f"coarse_tilt_aligned_face.{face_id}.{original}"
    return [
        root / "aligned" / user_id / aligned,
        root / "faces" / user_id / coarse,
        root / user_id / aligned,
        root / user_id / coarse,
    ]


def read_fold_file(path: Path, fold: int, image_root: Path, drops: DropCounter) -> Iterator[FaceRecord]:
    """Yield the usable faces of one fold file; count the rest in ``drops`` by reason."""
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().rstrip("\r\n").split("\t")
        missing = [c for c in FOLD_COLUMNS if c not in header]
        if missing:
            raise FoldFileError(f"{path}:1: header lacks column(s) {missing}")
        col = {name: header.index(name) for name in FOLD_COLUMNS}
        for lineno, line in enumerate(fh, start=2):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) < len(header) - 3 or len(fields) <= max(col.values()):
                raise FoldFileError(
                    f"{path}:{lineno}: expected {len(header)} tab-separated fields, got {len(fields)}"
                )
            user_id = fields[col["user_id"]]
            original = fields[col["original_image"]]
            face_id = fields[col["face_id"]]
            name = f"{user_id}/{face_id}.{original}"
            try:
                group, age = map_adience_age(fields[col["age"]])
            except ValueError as exc:
                raise FoldFileError(f"{path}:{lineno}: {exc}") from None
            gender = map_adience_gender(fields[col["gender"]])
            if group is None:
                drops.add("age_none", name)
                continue
            if gender is None:
                drops.add("gender_unknown", name)
                continue
            image = next((p for p in _image_candidates(image_root, user_id, face_id, original) if p.is_file()), None)
            if image is None:
                drops.add("image_missing", name)
                continue
            yield FaceRecord(
                path=image, source_name=str(image.relative_to(image_root)), age=age,
                age_group=group, gender=gender, fold=fold, split="",
            )


def read_adience(fold_files: list[Path], image_root: Path, drops: DropCounter) -> Iterator[FaceRecord]:
    if not image_root.is_dir():
        raise FileNotFoundError(f"Adience image root {image_root} does not exist or is not a folder")
    for path in fold_files:
        m = re.search(r"fold_(\d+)_data", path.name)
        if not m:
            raise FoldFileError(f"{path}: cannot tell the fold number from the name (want fold_N_data.txt)")
        yield from read_fold_file(path, int(m.group(1)), image_root, drops)
