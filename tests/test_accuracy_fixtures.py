"""Accuracy of the shipped model on the 48 fixture faces (UTKFace val, 3 per age group x gender).

The fixture set is balanced (as many toddlers as adults), so its expected accuracy is not the val
figure itself but the mean of the val accuracies of its 16 (age group x gender) cells, taken from
the shipped model's own val evaluation (training/edge_resnet_utkface/val_eval.json, written by
`agegender-edge evaluate`). The test fails below that expectation minus 3 binomial standard
errors for 48 faces (a ~0.1% chance of a false alarm for a model that is as good as on val).
"""
import json
import math
from collections import defaultdict

from agegender_edge.labels import AGE_GROUP_LABELS

from .conftest import REPO

VAL_EVAL = REPO / "training" / "edge_resnet_utkface" / "val_eval.json"


def _cell_expectation(metric: str) -> float:
    rows = json.loads(VAL_EVAL.read_text())["per_group"]
    num, den = defaultdict(float), defaultdict(int)
    for r in rows:
        if r["age_group"] and r["gender"] and r["race"] and r[metric] is not None:
            num[(r["age_group"], r["gender"])] += r[metric] * r["n"]
            den[(r["age_group"], r["gender"])] += r["n"]
    cells = [num[k] / den[k] for k in den]
    assert len(cells) == 16
    return sum(cells) / len(cells)


def test_gender_and_one_off_on_the_48_fixture_faces(predictor, faces_48):
    results = predictor.predict_faces([r["path"] for r in faces_48])
    assert all(r.ok and len(r.faces) == 1 for r in results)
    gender_ok = one_off_ok = 0
    for row, res in zip(faces_48, results):
        face = res.faces[0]
        gender_ok += face.gender == row["gender_name"]
        one_off_ok += abs(AGE_GROUP_LABELS.index(face.age_group) - int(row["adience_group_nearest"])) <= 1
    n = len(faces_48)
    for metric, ok in (("gender_accuracy", gender_ok), ("one_off_accuracy", one_off_ok)):
        p = _cell_expectation(metric)
        floor = p - 3 * math.sqrt(p * (1 - p) / n)
        print(f"{metric}: {ok}/{n} = {ok / n:.3f} (expected {p:.3f}, floor {floor:.3f})")
        assert ok / n >= floor, (metric, ok / n, floor)
