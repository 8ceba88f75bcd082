"""All-Age-Faces (AAF): head crops named ``%05dA%02d.jpg`` (``<id>A<age>``), read ONLY through
the manifest (shared/data/aaf/labels.csv: ``file,age,gender,split``).

Part of AAF is held back by the maintainers as an acceptance test, so the reader refuses to run
on a folder that holds AAF images the manifest does not list: an unlisted file can only be a
held-back image, and one never seen is one that cannot leak into training or selection.
Labels come from the manifest and are checked against the file name (age from ``A<age>``,
gender from the id: ids below 7381 are female), so a renamed or mislabelled file is refused too.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Iterator, Optional

from ...labels import GENDER_LABELS, age_to_group_nearest
from .records import DropCounter, FaceRecord

AAF_NAME = re.compile(r"^(\d{5})A(\d{2})\.jpg$")
FIRST_MALE_ID = 7381
_GENDER = {"F": "female", "M": "male"}


class AafManifestError(ValueError):
    """The AAF folder or manifest does not satisfy the manifest-only rule."""


def _read_manifest(path: Path) -> dict[str, dict[str, str]]:
    if not Path(path).is_file():
        raise AafManifestError(f"AAF manifest {path} does not exist")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not {"file", "age", "gender", "split"} <= set(reader.fieldnames or ()):
            raise AafManifestError(f"{path}: not an AAF manifest (want columns file,age,gender,split; "
                                   f"got {reader.fieldnames})")
        rows = {row["file"]: row for row in reader}
    if not rows:
        raise AafManifestError(f"{path}: the manifest lists no images")
    for name, row in rows.items():
        m = AAF_NAME.match(name)
        if m is None:
            raise AafManifestError(f"{path}: {name!r} is not an AAF file name (%05dA%02d.jpg)")
        want_gender = "F" if int(m.group(1)) < FIRST_MALE_ID else "M"
        if row["gender"] != want_gender or int(row["age"]) != int(m.group(2)):
            raise AafManifestError(f"{path}: labels of {name} (age {row['age']}, gender {row['gender']}) "
                                   f"disagree with its name (age {int(m.group(2))}, gender {want_gender})")
    return rows


def read_aaf(folder: Path, manifest: Path, drops: DropCounter,
             splits: Optional[set[str]] = None) -> Iterator[FaceRecord]:
    """The manifest's faces (sorted by file name) found in ``folder``. Refuses, before any image is
    read, a folder with AAF images the manifest does not list; listed files missing from the
    folder are dropped and counted (``missing_file``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AafManifestError(f"AAF image folder {folder} does not exist or is not a folder")
    rows = _read_manifest(Path(manifest))
    present = {p.name for p in folder.iterdir() if p.is_file()}
    unlisted = sorted(n for n in present if AAF_NAME.match(n) and n not in rows)
    if unlisted:
        raise AafManifestError(
            f"{folder} holds {len(unlisted)} AAF images the manifest does not list (e.g. "
            f"{', '.join(unlisted[:3])}); they may be held-back test images: remove them, the "
            f"reader uses only the manifest's files")
    return _records(folder, rows, present, drops, splits)


def _records(folder: Path, rows: dict[str, dict[str, str]], present: set[str], drops: DropCounter,
             splits: Optional[set[str]]) -> Iterator[FaceRecord]:
    for name in sorted(rows):
        row = rows[name]
        if splits is not None and row["split"] not in splits:
            continue
        if name not in present:
            drops.add("missing_file", name)
            continue
        age = int(row["age"])
        yield FaceRecord(path=folder / name, source_name=name, age=float(age),
                         age_group=age_to_group_nearest(age),
                         gender=GENDER_LABELS.index(_GENDER[row["gender"]]), split=row["split"])
