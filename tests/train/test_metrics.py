import numpy as np
import pytest

from agegender_edge.train.metrics import Predictions, evaluate_predictions


def test_metrics_on_a_hand_computed_case():
    # 4 faces: true groups 0, 3, 4, 7; predicted 0, 4, 2, 7 -> exact 2/4, 1-off 3/4
    groups = np.eye(8, dtype=np.float32)[[0, 4, 2, 7]]
    gender_p = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]], dtype=np.float32)  # pred f, m, m, m
    pred = Predictions(gender_p, groups, np.array([1.0, 30.0, 10.0, 70.0], dtype=np.float32))
    rep = evaluate_predictions(pred, gender=np.array([0, 1, 0, 1]), age_group=np.array([0, 3, 4, 7]),
                               age=np.array([2.0, 20.0, np.nan, 64.0], dtype=np.float32), race=np.array([0, 1, 2, 0]))
    assert rep.n == 4
    assert rep.gender_accuracy == pytest.approx(0.75)
    assert rep.age_group_accuracy == pytest.approx(0.5)
    assert rep.one_off_accuracy == pytest.approx(0.75)
    assert rep.age_mae == pytest.approx((1 + 10 + 6) / 3)  # NaN age excluded
    cm = np.array(rep.confusion)
    assert cm.sum() == 4 and cm[3, 4] == 1 and cm[4, 2] == 1 and cm[0, 0] == 1 and cm[7, 7] == 1
    by_group = {r.age_group: r for r in rep.per_group if r.gender is None and r.race is None and r.age_group}
    assert by_group["15-20"].one_off_accuracy == 1.0 and by_group["25-32"].one_off_accuracy == 0.0
    cross = [r for r in rep.per_group if r.age_group and r.gender and r.race]
    assert sum(r.n for r in cross) == 4
    d = rep.to_dict()
    for key in ("n", "gender_accuracy", "age_group_accuracy", "one_off_accuracy", "age_mae", "per_group"):
        assert key in d


def test_expected_age_rule_buckets_the_predicted_age():
    # the group distribution says 15-20 (argmax) but the expected age 24 falls in 25-32 (23-35 nearest)
    probs = np.array([[0, 0, 0, 0.6, 0.4, 0, 0, 0]], dtype=np.float32)
    argmax = Predictions(np.array([[0.5, 0.5]]), probs, np.array([24.0]))
    by_age = Predictions(np.array([[0.5, 0.5]]), probs, np.array([24.0]), "expected_age")
    assert argmax.age_group.tolist() == [3] and by_age.age_group.tolist() == [4]
    rep = evaluate_predictions(by_age, np.array([1]), np.array([4]), np.array([24.0]))
    assert rep.age_group_accuracy == 1.0 and rep.extra["age_group_accuracy_argmax"] == 0.0
