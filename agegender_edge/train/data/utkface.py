"""UTKFace: a folder of ``{age}_{gender}_{race}_{date}.jpg.chip.jpg`` files.

UTKFace codes gender 0 = male, 1 = female; we store our own order (labels.GENDER_LABELS).
An optional ``labels.csv`` beside the images (with ``file`` and ``split`` columns, as in
shared/data) is honoured: its split is used and rows flagged ``label_conflict`` can be dropped.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Iterator, Optional

from ...labels import GENDER_LABELS, age_to_group_nearest
from .records import DropCounter, FaceRecord

_NAME = re.compile(r"^(\d+)_([01])_([0-4])_\S*\.jpg(\.chip\.jpg)?$")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def parse_utkface_name(name: str) -> Optional[tuple[int, int, int]]:
    """(age, our gender index, race) from a UTKFace file name, or None if it does not parse."""
    m = _NAME.match(name)
    if not m:
        return None
    age, utk_gender, race = int(m.group(1)), int(m.group(2)), int(m.group(3))
    gender = GENDER_LABELS.index("male" if utk_gender == 0 else "female")
    return age, gender, race


def _load_labels_csv(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["file"]: row for row in csv.DictReader(fh)}


def read_utkface(
    folder: Path,
    drops: DropCounter,
    labels_csv: Optional[Path] = None,
    splits: Optional[set[str]] = None,
    drop_label_conflicts: bool = True,
) -> Iterator[FaceRecord]:
    """Yield UTKFace faces in sorted file order. ``folder`` may hold the images directly or an
    ``images/`` subfolder (shared/data layout); ``labels.csv`` next to it is used when present."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"UTKFace folder {folder} does not exist or is not a folder")
    image_dir = folder / "images" if (folder / "images").is_dir() else folder
    if labels_csv is None and (folder / "labels.csv").is_file():
        labels_csv = folder / "labels.csv"
    table = _load_labels_csv(labels_csv) if labels_csv else {}
    for path in sorted(image_dir.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        parsed = parse_utkface_name(path.name)
        if parsed is None:
            drops.add("unparseable_name", path.name)
            continue
        age, gender, race = parsed
        row = table.get(path.name)
        split = row.get("split", "") if row else ""
        if splits is not None and split not in splits:
            continue  # not requested: not a drop
        # conflicting duplicates are dropped from training only: evaluation splits stay complete
        if row and drop_label_conflicts and split == "train" and row.get("label_conflict") == "1":
            drops.add("label_conflict", path.name)
            continue
        yield FaceRecord(
            path=path, source_name=path.name, age=float(age), age_group=age_to_group_nearest(age),
            gender=gender, race=race, split=split,
        )
