"""The label dataset's row layout (schema version 2), documented in docs/SCALE.md.

One row per face; one row per image without a face (``face_index`` null, ``num_faces`` 0) and one
per image that failed (``error_type`` / ``error`` set) — so every input image has at least one row
and ``max(num_faces, 1)`` rows in all, which is how the writer knows an image is complete.

Rows are built as plain dicts here (no pyarrow needed); ``arrow_schema()`` imports pyarrow lazily.
Changing a column's name, type or meaning means a new ``SCHEMA_VERSION``: an output folder written
with another version is refused before any work starts (see store.py).
"""
from __future__ import annotations

from typing import Any, Optional

from .._version import __version__
from ..labels import AGE_GROUP_LABELS
from ..results import ImageResult

SCHEMA_VERSION = 2   # 2: face_index counts from 1 (as `predict`), 1: from 0
# Parquet schema metadata keys (every shard carries them)
SCHEMA_VERSION_KEY = "agegender_edge.label.schema_version"
SDK_VERSION_KEY = "agegender_edge.version"


def age_group_column(label: str) -> str:
    """'25-32' -> 'age_group_p_25_32' (a column name SQL engines accept unquoted)."""
    return "age_group_p_" + label.replace("-", "_")


AGE_GROUP_COLUMNS: tuple[str, ...] = tuple(age_group_column(g) for g in AGE_GROUP_LABELS)

# (name, arrow type, nullable, meaning) — the single source of the layout; docs/SCALE.md mirrors it.
_COLUMNS: tuple[tuple[str, str, bool, str], ...] = (
    ("source", "string", False, "image path as labelled (absolute), or the URI"),
    ("width", "int32", False, "image width in pixels (0 when it could not be read)"),
    ("height", "int32", False, "image height in pixels (0 when it could not be read)"),
    ("num_faces", "int32", False, "faces found in this image (0 on no-face and error rows)"),
    ("face_index", "int32", True, "face number in the image, from 1 (as `predict`); null on no-face and error rows"),
    ("box_x", "float64", True, "detected face box, top-left x (pixels of the original image)"),
    ("box_y", "float64", True, "detected face box, top-left y"),
    ("box_width", "float64", True, "detected face box width"),
    ("box_height", "float64", True, "detected face box height"),
    ("crop_x", "float64", True, "square chip the model saw, top-left x (may extend past the image)"),
    ("crop_y", "float64", True, "square chip top-left y"),
    ("crop_width", "float64", True, "square chip width"),
    ("crop_height", "float64", True, "square chip height"),
    ("detection_score", "float64", True, "detector confidence (1.0 with detector none)"),
    ("age", "float64", True, "age in years (median or mean of the age distribution, per the model)"),
    ("age_std", "float64", True, "std of the age distribution, years"),
    ("age_low_80", "float64", True, "10th percentile of the age distribution, years"),
    ("age_high_80", "float64", True, "90th percentile of the age distribution, years"),
    ("age_group", "string", True, "most probable Adience group, e.g. '25-32'"),
    *((col, "float64", True, f"probability of age group {g}") for col, g in zip(AGE_GROUP_COLUMNS, AGE_GROUP_LABELS)),
    ("gender", "string", True, "'female' or 'male'"),
    ("gender_probability", "float64", True, "probability of `gender`"),
    ("model_name", "string", False, "the model's metadata name"),
    ("model_weights_sha256", "string", True, "sha256 of the model's weights (from its metadata)"),
    ("detector", "string", False,
     "the detector that found the faces, e.g. 'haar (haarcascade_frontalface_default.xml)', 'none'"),
    ("sdk_version", "string", False, "agegender-edge version that wrote the row"),
    ("error_type", "string", True, "exception class name when the image failed, e.g. InvalidImageError"),
    ("error", "string", True, "message naming the file and the problem; null when the image was processed"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c[0] for c in _COLUMNS)


def column_docs() -> list[tuple[str, str, bool, str]]:
    """(name, type, nullable, meaning) for every column, in order."""
    return list(_COLUMNS)


def arrow_schema():
    """The pyarrow schema of a shard, with the schema version in its metadata."""
    import pyarrow as pa

    fields = [pa.field(name, getattr(pa, kind)(), nullable=nullable) for name, kind, nullable, _ in _COLUMNS]
    return pa.schema(fields, metadata={SCHEMA_VERSION_KEY: str(SCHEMA_VERSION), SDK_VERSION_KEY: __version__})


def check_age_groups(labels: tuple[str, ...], model: str) -> None:
    """The dataset has one column per Adience group; a model with other groups needs another schema."""
    if tuple(labels) != AGE_GROUP_LABELS:
        from ..errors import ModelError
        raise ModelError(f"{model}: age groups {list(labels)} differ from the 8 Adience groups the label "
                         f"dataset (schema {SCHEMA_VERSION}) stores: {list(AGE_GROUP_LABELS)}")


def rows_from_result(result: ImageResult, source: str, model_name: str, model_sha256: Optional[str],
                     detector: str) -> list[dict[str, Any]]:
    """All rows of one image: one per face, or exactly one no-face / error row."""
    base = {name: None for name in COLUMN_NAMES}
    base.update(source=source, width=int(result.width), height=int(result.height), num_faces=len(result.faces),
                model_name=model_name, model_weights_sha256=model_sha256, detector=detector,
                sdk_version=__version__)
    if result.error is not None or not result.faces:
        return [dict(base, error_type=result.error_type, error=result.error)]
    rows = []
    for i, face in enumerate(result.faces, start=1):   # numbered from 1, as `predict` numbers faces
        row = dict(base, face_index=i,
                   box_x=face.box.x, box_y=face.box.y, box_width=face.box.width, box_height=face.box.height,
                   crop_x=face.crop_box.x, crop_y=face.crop_box.y, crop_width=face.crop_box.width,
                   crop_height=face.crop_box.height, detection_score=float(face.detection_score),
                   age=float(face.age), age_std=float(face.age_std), age_low_80=float(face.age_interval_80[0]),
                   age_high_80=float(face.age_interval_80[1]), age_group=face.age_group,
                   gender=face.gender, gender_probability=float(face.gender_probability))
        for col, group in zip(AGE_GROUP_COLUMNS, AGE_GROUP_LABELS):
            row[col] = float(face.age_group_probs[group])
        rows.append(row)
    return rows


def table_from_rows(rows: list[dict[str, Any]]):
    """Rows -> a pyarrow Table with the versioned schema."""
    import pyarrow as pa

    return pa.Table.from_pylist(rows, schema=arrow_schema())
