"""Bulk labelling: many images -> a resumable, versioned Parquet dataset of faces (docs/SCALE.md).

``label(sources, out_dir, engine="local" | "ray")`` — the local engine runs the streaming
``Predictor`` in this process; the Ray engine runs one Predictor per Ray Data actor, on a local
cluster or a real one. pyarrow comes with the ``[parquet]`` extra, pyarrow and ray (the Ray
engine) with ``[distributed]``; both are imported only when labelling starts.
"""
from __future__ import annotations

from .api import ENGINES, LabelSummary, label
from .schema import SCHEMA_VERSION, SCHEMA_VERSION_KEY, column_docs
from .sources import LabelInputError

__all__ = ["label", "LabelSummary", "LabelInputError", "ENGINES", "SCHEMA_VERSION", "SCHEMA_VERSION_KEY",
           "column_docs"]
