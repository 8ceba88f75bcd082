import csv

from agegender_edge.labels import AGE_GROUP_LABELS, age_to_group_nearest, age_to_group_strict

from .conftest import UTKFACE


def test_group_mappings_agree_with_the_published_labels_csv():
    """Every UTKFace age in shared/data maps to the same nearest and strict group as labels.csv."""
    with open(UTKFACE / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 21341
    for r in rows:
        age = int(r["age"])
        assert age_to_group_nearest(age) == int(r["adience_group_nearest"]), r["file"]
        strict = r["adience_group_strict"]
        assert age_to_group_strict(age) == (int(strict) if strict else None), r["file"]


def test_nearest_ranges_match_readme():
    ranges = {0: (0, 3), 1: (4, 7), 2: (8, 13), 3: (14, 22), 4: (23, 35), 5: (36, 45), 6: (46, 56), 7: (57, 116)}
    for group, (lo, hi) in ranges.items():
        assert {age_to_group_nearest(a) for a in range(lo, hi + 1)} == {group}
    assert AGE_GROUP_LABELS[0] == "0-2" and AGE_GROUP_LABELS[-1] == "60-100"
