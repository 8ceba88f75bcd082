"""The one record type every dataset reader yields, before images are decoded."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional


@dataclass(frozen=True)
class FaceRecord:
    path: Path                  # image file
    source_name: str            # name stored in the .h5 (relative, dataset-specific)
    age: float = math.nan       # exact age in years, NaN when only a group is known
    age_group: int = -1         # 0..7 Adience group, -1 unknown
    gender: int = -1            # index into labels.GENDER_LABELS (0 female, 1 male), -1 unknown
    race: int = -1              # index into labels.RACE_LABELS, -1 unknown
    fold: int = -1              # Adience fold 0..4, -1 when not from Adience
    split: str = ""             # "train" / "val" / "test" / "" (Adience uses folds)


@dataclass
class DropCounter:
    """Counts records that were dropped, by reason, with a few example names per reason."""

    counts: dict[str, int]
    examples: dict[str, list[str]]

    def __init__(self) -> None:
        self.counts = {}
        self.examples = {}

    def add(self, reason: str, name: Optional[str] = None) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        if name is not None:
            ex = self.examples.setdefault(reason, [])
            if len(ex) < 5:
                ex.append(name)

    @property
    def total(self) -> int:
        return sum(self.counts.values())
