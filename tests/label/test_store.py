"""The output folder: versioned shards, refusals, atomic writes, complete images only."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from agegender_edge.label import SCHEMA_VERSION, SCHEMA_VERSION_KEY, LabelInputError
from agegender_edge.label.schema import COLUMN_NAMES, arrow_schema, column_docs, table_from_rows
from agegender_edge.label.store import ShardWriter, open_output


def _row(source: str, num_faces: int, face_index, error=None) -> dict:
    row = {name: None for name in COLUMN_NAMES}
    row.update(source=source, width=10, height=10, num_faces=num_faces, face_index=face_index,
               model_name="m", detector="none", sdk_version="0", error=error,
               error_type="InvalidImageError" if error else None)
    return row


def test_every_shard_carries_the_schema_version_and_documented_columns(tmp_path):
    writer = ShardWriter(tmp_path, shard_images=10)
    writer.add(table_from_rows([_row("a", 0, None)]))
    writer.close()
    (shard,) = tmp_path.glob("part-*.parquet")
    schema = pq.read_schema(shard)
    assert schema.metadata[SCHEMA_VERSION_KEY.encode()] == str(SCHEMA_VERSION).encode()
    assert schema.names == [c[0] for c in column_docs()] == list(COLUMN_NAMES)


def test_writer_never_splits_an_image_across_shards(tmp_path):
    writer = ShardWriter(tmp_path, shard_images=1)
    # image "b" has 3 faces; its rows arrive in two pieces, with other images in between
    writer.add(table_from_rows([_row("a", 1, 0), _row("b", 3, 0), _row("b", 3, 1)]))
    assert [r["source"] for r in pq.read_table(next(tmp_path.glob("part-*"))).to_pylist()] == ["a"]
    writer.add(table_from_rows([_row("c", 0, None), _row("b", 3, 2)]))
    writer.close()
    shards = sorted(tmp_path.glob("part-*.parquet"))
    per_shard = [sorted({r["source"] for r in pq.read_table(s).to_pylist()}) for s in shards]
    assert sorted(map(tuple, per_shard)) == [("a",), ("b",), ("c",)]
    assert writer.stats.images == 3 and writer.stats.faces == 4 and writer.stats.no_face_images == 1


def test_an_image_left_incomplete_is_reported_not_dropped(tmp_path):
    writer = ShardWriter(tmp_path)
    writer.add(table_from_rows([_row("b", 2, 0)]))
    with pytest.raises(RuntimeError, match="only part of their rows"):
        writer.close()


def test_open_output_returns_done_sources_and_removes_temp_files(tmp_path):
    writer = ShardWriter(tmp_path, shard_images=1)
    writer.add(table_from_rows([_row("a", 0, None), _row("b", 0, None, error="broken")]))
    writer.close()
    (tmp_path / ".tmp-part-x.parquet").write_bytes(b"half a shard")
    assert open_output(tmp_path) == {"a", "b"}
    assert not list(tmp_path.glob(".tmp-*"))


def test_other_schema_version_is_refused(tmp_path):
    schema = arrow_schema().with_metadata({SCHEMA_VERSION_KEY: str(SCHEMA_VERSION + 1)})
    pq.write_table(pa.Table.from_pylist([_row("a", 0, None)], schema=schema), tmp_path / "part-old.parquet")
    with pytest.raises(LabelInputError, match=f"holds label schema version {SCHEMA_VERSION + 1}"):
        open_output(tmp_path)


def test_foreign_parquet_and_non_folder_are_refused(tmp_path):
    pq.write_table(pa.table({"x": [1]}), tmp_path / "other.parquet")
    with pytest.raises(LabelInputError, match="not written by agegender-edge label"):
        open_output(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(LabelInputError, match="not a folder"):
        open_output(tmp_path / "file")
