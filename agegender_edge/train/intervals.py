"""95% bootstrap intervals for evaluation figures (numpy only).

Selection compares models on sets of a few thousand faces, where one figure moves by noise alone
(LFW dev: 571 female photos, about +-1.1 pt on female recall). Every reported figure carries its
percentile bootstrap interval: resample the evaluated items with replacement, recompute the
statistic, take the 2.5th and 97.5th percentiles. Fixed seed: the same data gives the same
interval, so reports are reproducible.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

BOOTSTRAP_RESAMPLES = 1000


def bootstrap_interval(statistic: Callable[[np.ndarray], float], n: int, resamples: int = BOOTSTRAP_RESAMPLES,
                       level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile interval of ``statistic(indices)`` over ``resamples`` bootstrap draws of
    ``n`` item indices. ``statistic`` gets an index array (with repeats) and returns a float
    (NaN draws, e.g. a class absent from a resample, are ignored)."""
    if n == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n, n)) for _ in range(resamples)], dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (float("nan"), float("nan"))
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return (float(lo), float(hi))


def mean_interval(x: np.ndarray, **kw) -> tuple[float, float]:
    """Interval of the mean of per-item values (0/1 correctness or absolute errors)."""
    x = np.asarray(x, dtype=np.float64)
    return bootstrap_interval(lambda idx: float(x[idx].mean()), len(x), **kw)


def balanced_accuracy_interval(correct: np.ndarray, label: np.ndarray, **kw) -> tuple[float, float]:
    """Interval of the mean of per-class recalls (LFW: male and female), resampling items."""
    correct = np.asarray(correct, dtype=np.float64)
    label = np.asarray(label)
    classes = np.unique(label)

    def stat(idx: np.ndarray) -> float:
        c, y = correct[idx], label[idx]
        recalls = [c[y == k].mean() for k in classes if (y == k).any()]
        return float(np.mean(recalls)) if len(recalls) == len(classes) else float("nan")
    return bootstrap_interval(stat, len(correct), **kw)


def format_interval(value: float, interval: tuple[float, float], digits: int = 4) -> str:
    return f"{value:.{digits}f} [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"
