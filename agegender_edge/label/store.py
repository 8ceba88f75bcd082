"""The output folder: a Parquet dataset of shards, written atomically, that is its own resume log.

Each shard holds complete images only (all ``max(num_faces, 1)`` rows of an image, or none) and is
written to a hidden temporary file, fsynced, then renamed into place — so a run killed at any
moment leaves only whole shards behind (plus a temp file that the next run deletes). The sources
already done are read back from the shards' ``source`` column: there is no separate state file
that could disagree with the data.
"""
from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .schema import COLUMN_NAMES, SCHEMA_VERSION, SCHEMA_VERSION_KEY, arrow_schema
from .sources import LabelInputError

SHARD_GLOB = "part-*.parquet"
TEMP_PREFIX = ".tmp-"   # hidden: pyarrow / Spark / Ray dataset readers skip names starting with '.'


def open_output(out_dir: Path) -> set[str]:
    """Check ``out_dir`` (refusing foreign or other-version Parquet files) and return the sources
    its shards already hold. Creates the folder; removes temp files of an interrupted run."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if out_dir.exists() and not out_dir.is_dir():
        raise LabelInputError(f"{out_dir}: --out exists and is not a folder")
    parent = out_dir.absolute().parent
    if not out_dir.exists() and not parent.is_dir():
        # one policy for outputs (docs/ERRORS.md): only the last level is created, never a typo's parents
        raise LabelInputError(f"{out_dir}: --out's folder {parent} does not exist (create it first)")
    out_dir.mkdir(exist_ok=True)
    done: set[str] = set()
    # every visible Parquet file is checked; names starting with '.' or '_' are skipped, as dataset
    # readers (pyarrow, Spark, Ray) skip them
    for shard in sorted(p for p in out_dir.glob("*.parquet") if not p.name.startswith((".", "_"))):
        try:
            schema = pq.read_schema(shard)
        except (pa.ArrowException, OSError) as exc:
            raise LabelInputError(f"{shard}: unreadable Parquet file in the output folder ({exc}); "
                                  f"remove it or use another --out folder") from None
        meta = schema.metadata or {}
        version = meta.get(SCHEMA_VERSION_KEY.encode())
        if version is None:
            raise LabelInputError(f"{shard}: not written by agegender-edge label (no {SCHEMA_VERSION_KEY} "
                                  f"metadata); use another --out folder")
        if version.decode() != str(SCHEMA_VERSION):
            raise LabelInputError(f"{out_dir}: holds label schema version {version.decode()} ({shard.name}); this "
                                  f"agegender-edge writes version {SCHEMA_VERSION}: use another --out folder")
        done.update(pq.read_table(shard, columns=["source"]).column("source").to_pylist())
    for stale in out_dir.glob(TEMP_PREFIX + "*"):
        stale.unlink()  # a shard that was being written when the previous run stopped
    return done


FAILED_LISTED = 20   # error messages kept for the summary (every one is in the dataset's error column)


@dataclass
class WriteStats:
    images: int = 0
    faces: int = 0
    no_face_images: int = 0
    errors: int = 0
    shards: int = 0
    rows: int = 0
    failed: list = field(default_factory=list)   # the first FAILED_LISTED error messages (they name the file)


class ShardWriter:
    """Buffers result rows and writes complete images as shards of about ``shard_images`` images,
    or sooner when ``shard_seconds`` pass, so a slow run still saves its progress."""

    def __init__(self, out_dir: Path, shard_images: int = 2000, shard_seconds: float = 60.0):
        import pyarrow as pa

        self._pa = pa
        self.out_dir = out_dir
        self.shard_images = max(1, shard_images)
        self.shard_seconds = shard_seconds
        self.stats = WriteStats()
        self._run = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"  # unique per run: no clashes
        self._tables: list = []
        self._seen: dict[str, int] = {}     # source -> rows received so far (incomplete images only)
        self._complete: dict[str, None] = {}  # complete images not yet written (ordered set)
        self._last_flush = time.monotonic()

    def add(self, table) -> None:
        """Rows of whole or partial images (any order between images)."""
        if table.num_rows == 0:
            return
        table = table.select(list(COLUMN_NAMES)).cast(arrow_schema())
        self._tables.append(table)
        for source, num_faces in zip(table.column("source").to_pylist(), table.column("num_faces").to_pylist()):
            seen = self._seen.get(source, 0) + 1
            if seen == max(num_faces, 1):
                self._seen.pop(source, None)
                self._complete[source] = None
            else:
                self._seen[source] = seen
        if len(self._complete) >= self.shard_images or (
                self._complete and time.monotonic() - self._last_flush >= self.shard_seconds):
            self.flush()

    def flush(self) -> None:
        """Write every complete image buffered so far, ``shard_images`` images per shard; keep
        partial images buffered."""
        if not self._complete:
            return
        import pyarrow.compute as pc

        pa = self._pa
        rest = pa.concat_tables(self._tables)
        done = list(self._complete)
        for start in range(0, len(done), self.shard_images):
            chunk = done[start:start + self.shard_images]
            in_chunk = pc.is_in(rest.column("source"), value_set=pa.array(chunk, pa.string()))
            shard = rest.filter(in_chunk)
            self._write(shard)
            self._count(shard, len(chunk))
            rest = rest.filter(pc.invert(in_chunk))
        self._tables = [rest] if rest.num_rows else []
        self._complete.clear()
        self._last_flush = time.monotonic()

    def close(self) -> None:
        """Flush; an image still incomplete here is a bug upstream (its rows were lost), so say so."""
        self.flush()
        if self._seen:
            missing = ", ".join(sorted(self._seen)[:3])
            raise RuntimeError(f"{len(self._seen)} image(s) received only part of their rows (e.g. {missing})")

    def _write(self, table) -> None:
        import pyarrow.parquet as pq

        name = f"part-{self._run}-{self.stats.shards:05d}.parquet"
        tmp = self.out_dir / f"{TEMP_PREFIX}{name}"
        with open(tmp, "wb") as fh:
            pq.write_table(table, fh, compression="zstd")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.out_dir / name)   # atomic on POSIX: readers see a whole shard or none

    def _count(self, table, images: int) -> None:
        import pyarrow.compute as pc

        s = self.stats
        s.images += images
        s.shards += 1
        s.rows += table.num_rows
        faces = pc.sum(pc.is_valid(table.column("face_index"))).as_py() or 0
        errors = pc.sum(pc.is_valid(table.column("error"))).as_py() or 0
        s.faces += faces
        s.errors += errors
        if errors and len(s.failed) < FAILED_LISTED:
            failed = table.filter(pc.is_valid(table.column("error")))
            for source, message in zip(failed.column("source").to_pylist(), failed.column("error").to_pylist()):
                if len(s.failed) < FAILED_LISTED:
                    s.failed.append(message if source in message else f"{source}: {message}")
        s.no_face_images += table.num_rows - faces - errors
