"""The exact assignment solver against brute force (agegender_edge/video/assignment.py)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from agegender_edge.video.assignment import min_cost_assignment


def brute_force(cost: np.ndarray) -> float:
    n, m = cost.shape
    if n <= m:
        return min(sum(cost[i, j] for i, j in enumerate(p)) for p in itertools.permutations(range(m), n))
    return brute_force(cost.T)


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 5), (5, 3), (6, 6), (4, 7)])
def test_optimal_on_random_matrices(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(20):
        cost = rng.random(shape)
        pairs = min_cost_assignment(cost)
        assert len(pairs) == min(shape)
        assert len({i for i, _ in pairs}) == len({j for _, j in pairs}) == min(shape)
        assert sum(cost[i, j] for i, j in pairs) == pytest.approx(brute_force(cost), abs=1e-12)


def test_beats_greedy_where_greedy_fails():
    # greedy takes the 0.1 pair and is left with 1.0; the optimum pairs the 0.2s
    cost = np.array([[0.1, 0.2], [0.2, 1.0]])
    assert min_cost_assignment(cost) == [(0, 1), (1, 0)]


def test_edge_cases():
    assert min_cost_assignment(np.zeros((0, 3))) == []
    assert min_cost_assignment(np.zeros((3, 0))) == []
    with pytest.raises(ValueError, match="finite"):
        min_cost_assignment(np.array([[np.inf]]))
    with pytest.raises(ValueError, match="2-D"):
        min_cost_assignment(np.zeros(3))
    big = np.random.default_rng(0).random((64, 64))   # max_faces: still exact
    pairs = min_cost_assignment(big)
    assert sorted(j for _, j in pairs) == list(range(64))
