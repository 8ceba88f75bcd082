"""docs/SCALE.md documents the dataset this SDK writes: every column, the schema version."""
from __future__ import annotations

from pathlib import Path

from agegender_edge.label import SCHEMA_VERSION, SCHEMA_VERSION_KEY, column_docs

DOC = Path(__file__).resolve().parents[2] / "docs" / "SCALE.md"


def test_scale_doc_lists_every_column_and_the_schema_version():
    text = DOC.read_text()
    schema_table = text.split("| column | type | null | meaning |", 1)[1].split("\n\n", 1)[0]
    missing = [name for name, *_ in column_docs() if f"`{name}`" not in schema_table]
    assert not missing, f"columns missing from the schema table in docs/SCALE.md: {missing}"
    for name, kind, nullable, _ in column_docs():
        row = next(line for line in schema_table.splitlines() if f"`{name}`" in line)
        assert f"| {kind} | {'yes' if nullable else 'no'} |" in row, (name, row)
    assert f"schema version {SCHEMA_VERSION})" in text and f"`{SCHEMA_VERSION_KEY}` = `{SCHEMA_VERSION}`" in text
