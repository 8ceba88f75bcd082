"""95% bootstrap intervals (train/intervals.py) and their place in evaluation reports."""
from __future__ import annotations

import numpy as np

from agegender_edge.train.intervals import balanced_accuracy_interval, format_interval, mean_interval
from agegender_edge.train.metrics import Predictions, evaluate_predictions


def test_mean_interval_covers_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    small = rng.random(300) < 0.9
    large = rng.random(30000) < 0.9
    lo_s, hi_s = mean_interval(small)
    lo_l, hi_l = mean_interval(large)
    assert lo_s <= small.mean() <= hi_s and lo_l <= large.mean() <= hi_l
    # binomial standard error: the 95% half-width is ~1.96 * sqrt(p (1 - p) / n)
    assert abs((hi_s - lo_s) / 2 - 1.96 * np.sqrt(0.09 / 300)) < 0.01
    assert (hi_l - lo_l) < (hi_s - lo_s) / 5
    assert mean_interval(small) == mean_interval(small)      # fixed seed: reproducible


def test_balanced_accuracy_interval_weights_the_small_class():
    # 1,656 male / 571 female as the LFW dev set: the female recall dominates the width
    male = np.r_[np.ones(1656, bool), np.zeros(571, bool)]
    correct = np.r_[np.random.default_rng(0).random(1656) < 0.98, np.random.default_rng(1).random(571) < 0.92]
    lo, hi = balanced_accuracy_interval(correct, male)
    value = (correct[male].mean() + correct[~male].mean()) / 2
    assert lo < value < hi
    assert 0.015 < hi - lo < 0.04       # ~ +-1 pt on 571 female photos
    assert format_interval(value, (lo, hi)).count("[") == 1


def test_evaluation_reports_carry_intervals():
    rng = np.random.default_rng(0)
    n = 1000
    gender = rng.integers(0, 2, n)
    probs = np.eye(2)[gender] * 0.8 + 0.1
    probs[:100] = probs[:100, ::-1]                      # 90% right
    groups = rng.integers(0, 8, n)
    age = rng.uniform(1, 80, n).astype(np.float32)
    r = evaluate_predictions(Predictions(probs, np.eye(8)[groups], age + 2), gender, groups, age)
    ci = r.extra["ci95"]
    assert ci["gender_accuracy"][0] < 0.9 < ci["gender_accuracy"][1]
    assert ci["age_mae"] == [2.0, 2.0] and ci["age_group_accuracy"] == [1.0, 1.0]
    assert r.intervals().startswith("95% intervals: gender 0.9000 [")
