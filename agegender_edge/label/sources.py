"""SOURCE arguments -> the list of images to label, checked before any work starts.

A SOURCE is a folder (its image files), a glob, a CSV or Parquet manifest with a path column, or
one image file — local, or on object storage as a URI (``s3://bucket/prefix/``, see remote.py).
A SOURCE that does not exist, a folder, glob or prefix without images, a manifest without the
path column (or without rows) are refused with LabelInputError. Entries of a manifest that
name missing or broken files are NOT refused: they become error rows (one bad item must not sink
a million-image job).
"""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Iterable

from ..errors import AgeGenderError

# The image files a folder or glob contributes (what OpenCV decodes; same list as `predict`).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".jp2", ".pgm",
                            ".ppm", ".pnm"})
MANIFEST_SUFFIXES = frozenset({".csv", ".parquet", ".pq"})
DEFAULT_PATH_COLUMN = "path"


class LabelInputError(AgeGenderError, ValueError):
    """A SOURCE or the output folder cannot be used (refused before any image is processed)."""


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _folder_images(folder: Path, recursive: bool) -> list[str]:
    pattern = "**/*" if recursive else "*"
    files = sorted(str(f) for f in folder.glob(pattern) if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
    if not files:
        where = "or below it " if recursive else ""
        hint = "" if recursive else " (use --recursive for sub-folders)"
        raise LabelInputError(f"{folder}: folder holds no image files {where}"
                              f"({', '.join(sorted(IMAGE_SUFFIXES))}){hint}")
    return files


def _read_manifest(label: str, open_file, suffix: str, column: str):
    """A CSV / Parquet manifest as a pyarrow Table (every CSV column read as text)."""
    import pyarrow as pa

    try:
        with open_file() as fh:
            if suffix == ".csv":
                import pyarrow.csv as pacsv
                # as text: a path column of digits must not become integers
                return pacsv.read_csv(fh, convert_options=pacsv.ConvertOptions(
                    column_types={column: pa.string()}, strings_can_be_null=False))
            import pyarrow.parquet as pq
            return pq.read_table(fh)
    except (pa.ArrowException, OSError) as exc:
        raise LabelInputError(f"{label}: cannot read manifest ({type(exc).__name__}: {exc})") from None


def _manifest_entries(label: str, table, column: str, make_absolute) -> list[str]:
    """The path column; relative entries are relative to the manifest's folder (``make_absolute``)."""
    from .remote import is_uri

    if column not in table.column_names:
        raise LabelInputError(f"{label}: manifest has no column {column!r} (columns: {', '.join(table.column_names)}); "
                              f"name the path column with --path-column")
    values = table.column(column).to_pylist()
    if not values:
        raise LabelInputError(f"{label}: manifest has no rows")
    out = []
    for row, value in enumerate(values, start=1):
        text = "" if value is None else str(value).strip()
        if not text:
            raise LabelInputError(f"{label}: row {row} has an empty {column!r}")
        out.append(text if is_uri(text) or os.path.isabs(text) else make_absolute(text))
    return out


def _local_manifest(path: Path, column: str) -> list[str]:
    table = _read_manifest(str(path), lambda: open(path, "rb"), path.suffix.lower(), column)
    return _manifest_entries(str(path), table, column, lambda rel: str(path.parent / rel))


def _remote_source(uri: str, recursive: bool, column: str) -> list[str]:
    """A prefix (its image objects), a manifest, or one object on a pyarrow filesystem."""
    import posixpath

    import pyarrow as pa
    import pyarrow.fs as pafs

    from .remote import join, resolve

    try:
        fs, path, scheme = resolve(uri)
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.Directory:
            listing = fs.get_file_info(pafs.FileSelector(path, recursive=recursive))
    except (pa.ArrowException, OSError) as exc:
        raise LabelInputError(f"{uri}: cannot open ({type(exc).__name__}: {exc})") from None
    if info.type == pafs.FileType.NotFound:
        raise LabelInputError(f"{uri}: no such object or prefix")
    if info.type == pafs.FileType.Directory:
        files = sorted(join(scheme, i.path) for i in listing
                       if i.type == pafs.FileType.File and posixpath.splitext(i.path)[1].lower() in IMAGE_SUFFIXES)
        if not files:
            raise LabelInputError(f"{uri}: holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return files
    suffix = posixpath.splitext(path)[1].lower()
    if suffix in MANIFEST_SUFFIXES:
        table = _read_manifest(uri, lambda: fs.open_input_file(path), suffix, column)
        folder = posixpath.dirname(path)
        return _manifest_entries(uri, table, column, lambda rel: join(scheme, posixpath.join(folder, rel)))
    return [uri]


def expand_sources(sources: Iterable[str], recursive: bool = False,
                   path_column: str = DEFAULT_PATH_COLUMN) -> list[str]:
    """Absolute image paths (or URIs) in order, duplicates removed (an image is labelled once).

    Absolute, so that a rerun from another working directory still recognises what was written."""
    from .remote import is_uri

    sources = [os.fspath(s) for s in sources]
    if not sources:
        raise LabelInputError("no SOURCE given")
    images: list[str] = []
    for text in sources:
        path = Path(text)
        if is_uri(text):
            images.extend(_remote_source(text, recursive, path_column))
        elif path.is_dir():
            images.extend(_folder_images(path, recursive))
        elif path.is_file() and path.suffix.lower() in MANIFEST_SUFFIXES:
            images.extend(_local_manifest(path, path_column))
        elif path.exists():
            images.append(text)
        elif _is_glob(text):
            matches = sorted(m for m in glob.glob(text, recursive=recursive) if os.path.isfile(m))
            if not matches:
                raise LabelInputError(f"{text}: pattern matches no files")
            images.extend(matches)
        else:
            raise LabelInputError(f"{text}: no such file or folder")
    seen: set[str] = set()
    unique = []
    for image in images:
        absolute = image if is_uri(image) else os.path.abspath(image)
        if absolute not in seen:
            seen.add(absolute)
            unique.append(absolute)
    return unique
