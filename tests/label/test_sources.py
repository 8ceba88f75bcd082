"""SOURCE expansion and the refusals that happen before any work starts."""
from __future__ import annotations

import os

import pytest

from agegender_edge.label import LabelInputError
from agegender_edge.label.sources import expand_sources
from tests.conftest import FACES_48


def test_folder_glob_file_and_manifest_are_expanded_in_order_without_duplicates(tmp_path):
    chips = sorted(str(p) for p in FACES_48.glob("*.jpg"))
    manifest = tmp_path / "list.csv"
    # relative entries are relative to the manifest's own folder
    manifest.write_text("path,label\n" + "".join(f"{os.path.relpath(c, tmp_path)},x\n" for c in chips[:3]))
    got = expand_sources([chips[5], str(FACES_48), str(FACES_48 / "1*_*.jpg"), str(manifest)])
    assert got[0] == chips[5]
    assert sorted(got) == chips            # every chip once, though named up to four times
    assert all(os.path.isabs(p) for p in got)


def test_parquet_manifest_with_a_named_path_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    chips = sorted(str(p) for p in FACES_48.glob("*.jpg"))[:4]
    pq.write_table(pa.table({"file": chips + [str(tmp_path / "missing.jpg")]}), tmp_path / "m.parquet")
    got = expand_sources([str(tmp_path / "m.parquet")], path_column="file")
    # an entry naming a missing file is kept: it becomes an error row, it does not stop the job
    assert got == chips + [str(tmp_path / "missing.jpg")]


@pytest.mark.parametrize("case", ["missing", "empty_folder", "no_match_glob", "csv_without_column",
                                  "csv_without_rows", "csv_empty_path"])
def test_bad_sources_are_refused_with_the_reason(tmp_path, case):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    csv_path = tmp_path / "m.csv"
    source, message = {
        "missing": (str(tmp_path / "nope"), "no such file or folder"),
        "empty_folder": (str(empty), "holds no image files"),
        "no_match_glob": (str(tmp_path / "*.jpg"), "matches no files"),
        "csv_without_column": (str(csv_path), "no column 'path' (columns: file, age)"),
        "csv_without_rows": (str(csv_path), "has no rows"),
        "csv_empty_path": (str(csv_path), "row 2 has an empty 'path'"),
    }[case]
    csv_path.write_text({"csv_without_column": "file,age\na.jpg,3\n", "csv_without_rows": "path\n",
                         "csv_empty_path": "path\na.jpg\n\"\"\n"}.get(case, "path\na.jpg\n"))
    with pytest.raises(LabelInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        expand_sources([source])
