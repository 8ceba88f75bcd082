import math
from pathlib import Path

import pytest

from agegender_edge.train.data.adience import FoldFileError, map_adience_age, read_adience
from agegender_edge.train.data.records import DropCounter

from ..conftest import ADIENCE

FOLDS = sorted((ADIENCE / "folds").glob("fold_*_data.txt"))


def _distinct_age_labels() -> set[str]:
    labels = set()
    for f in FOLDS:
        for line in f.read_text().splitlines()[1:]:
            labels.add(line.split("\t")[3])
    return labels


def test_every_age_label_in_the_fold_files_is_mapped():
    labels = _distinct_age_labels()
    assert len(labels) >= 30  # 8 groups + off-grid ranges + single numbers + None
    expected = {"(0, 2)": 0, "(4, 6)": 1, "(8, 12)": 2, "(15, 20)": 3, "(25, 32)": 4, "(38, 43)": 5,
                "(48, 53)": 6, "(60, 100)": 7, "(38, 42)": 5, "(38, 48)": 5, "(27, 32)": 4, "(8, 23)": 3,
                "2": 0, "3": 0, "13": 2, "22": 3, "23": 4, "35": 4, "36": 5, "45": 5, "55": 6, "57": 7, "58": 7}
    for label in labels:
        group, age = map_adience_age(label)
        if label == "None":
            assert group is None
            continue
        assert group in range(8), label
        if label in expected:
            assert group == expected[label], label
        if label.isdigit():
            assert age == float(label)
        else:
            assert math.isnan(age)
    assert map_adience_age("(25, 23)")[0] == 4  # typo-like range seen in other copies of the files


def test_all_five_folds_are_accounted_for(tmp_path):
    """Against the 19 sample faces as image root: every row is either kept or dropped with a reason."""
    drops = DropCounter()
    kept = list(read_adience(FOLDS, ADIENCE / "sample_faces", drops))
    assert len(kept) + drops.total == 19370
    assert len(kept) == 19
    assert drops.counts["age_none"] == 748
    assert set(drops.counts) == {"age_none", "gender_unknown", "image_missing"}
    assert {r.fold for r in kept} == {0}


def test_malformed_line_names_file_and_line(tmp_path):
    bad = tmp_path / "fold_0_data.txt"
    lines = FOLDS[0].read_text().splitlines()[:4]
    lines[3] = "only\ttwo"
    bad.write_text("\n".join(lines))
    with pytest.raises(FoldFileError, match=r"fold_0_data\.txt:4: expected"):
        list(read_adience([bad], ADIENCE / "sample_faces", DropCounter()))


def test_missing_image_root_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="image root .* does not exist"):
        list(read_adience(FOLDS, tmp_path / "nowhere", DropCounter()))
