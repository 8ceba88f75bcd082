"""Label vocabularies shared by the toolchain and the runtime.

The Adience age groups are the product's public age vocabulary. Exact ages (UTKFace) are mapped to
a group with two published conventions: "strict" (only ages inside a group's range; gaps -> None)
and "nearest" (every age to the closest group, ties to the younger group), as in shared/data's README.
"""
from __future__ import annotations

from typing import Optional, Sequence

AGE_GROUPS: tuple[tuple[int, int], ...] = (
    (0, 2), (4, 6), (8, 12), (15, 20), (25, 32), (38, 43), (48, 53), (60, 100),
)
AGE_GROUP_LABELS: tuple[str, ...] = tuple(f"{lo}-{hi}" for lo, hi in AGE_GROUPS)
# Index order of the gender head everywhere in this project (ONNX output, .h5, metrics).
GENDER_LABELS: tuple[str, ...] = ("female", "male")
RACE_LABELS: tuple[str, ...] = ("white", "black", "asian", "indian", "other")

# Upper bound (inclusive) of each group under the "nearest" rule; derived once from AGE_GROUPS.
def _nearest_upper_bounds() -> tuple[int, ...]:
    bounds = []
    for (lo0, hi0), (lo1, _hi1) in zip(AGE_GROUPS, AGE_GROUPS[1:]):
        # an age a goes to group i when a - hi0 <= lo1 - a (ties to the younger group)
        bounds.append((hi0 + lo1) // 2)
    return tuple(bounds)


_NEAREST_UPPER = _nearest_upper_bounds()


def age_to_group_nearest(age: float) -> int:
    """Nearest Adience group for an exact age (0-3 -> 0, 4-7 -> 1, ..., 57+ -> 7)."""
    a = int(round(age))
    for i, upper in enumerate(_NEAREST_UPPER):
        if a <= upper:
            return i
    return len(AGE_GROUPS) - 1


def parse_group_label(label: str) -> tuple[int, int]:
    """'25-32' -> (25, 32)."""
    lo, _, hi = label.partition("-")
    return int(lo), int(hi)


def nearest_group(age: float, groups: Sequence[tuple[int, int]]) -> int:
    """Index of the group nearest to ``age`` (ties to the younger group), for any ordered ranges;
    with AGE_GROUPS this is age_to_group_nearest."""
    a = int(round(age))
    for i in range(len(groups) - 1):
        if a <= (groups[i][1] + groups[i + 1][0]) // 2:
            return i
    return len(groups) - 1


def age_to_group_strict(age: float) -> Optional[int]:
    """Group whose published range contains the age, or None in a gap; ages over 100 -> last group."""
    a = int(round(age))
    for i, (lo, hi) in enumerate(AGE_GROUPS):
        if lo <= a <= hi:
            return i
    if a > AGE_GROUPS[-1][1]:
        return len(AGE_GROUPS) - 1
    return None


def age_group_midpoints() -> tuple[float, ...]:
    """Representative age of each group (for models trained on groups only)."""
    mids = [(lo + hi) / 2.0 for lo, hi in AGE_GROUPS]
    mids[-1] = 70.0  # 60-100: the bulk of this group is in its 60s-70s, not at 80
    return tuple(mids)
