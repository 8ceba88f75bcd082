"""Exact minimum-cost assignment for the tracker (tracks x detections), without scipy.

scipy is not a core dependency (numpy, OpenCV, ONNX Runtime only), and a frame has at most
``max_faces`` (64) faces, so a small exact solver is enough: the Hungarian method with
potentials (Kuhn-Munkres in the shortest-augmenting-path form, O(n^2 m)), its inner loop over
columns vectorised with numpy. Greedy matching would be simpler but is not optimal exactly where
it matters — two faces crossing, where two tracks compete for two detections.
"""
from __future__ import annotations

import numpy as np


def min_cost_assignment(cost: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (row, column) minimising the summed cost; every row of the smaller side is assigned.
    ``cost``: finite [n_rows, n_cols] float matrix (either side may be 0)."""
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f"cost must be a 2-D matrix, not shape {cost.shape}")
    n_rows, n_cols = cost.shape
    if n_rows == 0 or n_cols == 0:
        return []
    if not np.isfinite(cost).all():
        raise ValueError("cost must be finite (gate with a large value, not inf)")
    transposed = n_rows > n_cols
    a = cost.T if transposed else cost          # rows <= columns from here on
    n, m = a.shape
    # 1-based arrays of the textbook formulation: u/v row/column potentials, p[j] = row of column j
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    p = np.zeros(m + 1, dtype=np.int64)
    way = np.zeros(m + 1, dtype=np.int64)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = p[j0]
            free = ~used[1:]
            cur = a[i0 - 1] - u[i0] - v[1:]
            better = free & (cur < minv[1:])
            minv[1:][better] = cur[better]
            way[1:][better] = j0
            cand = np.where(free, minv[1:], np.inf)
            j1 = int(np.argmin(cand)) + 1
            delta = cand[j1 - 1]
            used_idx = np.nonzero(used)[0]
            u[p[used_idx]] += delta
            v[used_idx] -= delta
            minv[1:][free] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:                                # augment along the alternating path
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    pairs = [(int(p[j]) - 1, j - 1) for j in range(1, m + 1) if p[j] != 0]
    if transposed:
        pairs = [(c, r) for r, c in pairs]
    return sorted(pairs)
