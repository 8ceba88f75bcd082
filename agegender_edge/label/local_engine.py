"""``engine="local"``: one process, the streaming Predictor, shards written as they fill."""
from __future__ import annotations

from typing import Callable, Optional, Sequence

from .labeller import ResultLabeller
from .schema import table_from_rows
from .settings import PredictorSettings
from .store import ShardWriter

ROWS_PER_ADD = 256   # rows handed to the writer at a time (arrow conversion has a per-call cost)


def run_local(sources: Sequence[str], settings: PredictorSettings, writer: ShardWriter,
              on_image: Optional[Callable[[], None]] = None) -> None:
    labeller = ResultLabeller(settings)
    pending: list[dict] = []   # rows of whole images only: safe to hand over at any moment
    try:
        for rows in labeller.rows(list(sources)):
            pending.extend(rows)
            if len(pending) >= ROWS_PER_ADD:
                writer.add(table_from_rows(pending))
                pending = []
            if on_image is not None:
                on_image()
    finally:   # also on Ctrl-C: the caller flushes what the writer holds
        if pending:
            writer.add(table_from_rows(pending))
        labeller.close()
