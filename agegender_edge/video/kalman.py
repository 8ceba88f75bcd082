"""Constant-velocity Kalman filter of one face box (centre x, centre y, width, height).

State: [cx, cy, w, h, vcx, vcy, vw, vh] in pixels and pixels per frame. The noise scales with
the box height (as in DeepSORT / ByteTrack): a 200-pixel face jitters more, in pixels, than a
40-pixel one. ``predict_to(frame)`` advances by the frame gap, so frames dropped by a live source
and the frames between detector runs (``every`` > 1) are handled alike.
"""
from __future__ import annotations

import numpy as np

_POS_STD = 1.0 / 20.0     # measurement / position noise, fraction of the box height
_VEL_STD = 1.0 / 160.0    # process noise on the velocity, fraction of the box height per frame


class BoxKalman:
    def __init__(self, box_cxcywh: np.ndarray, frame: int):
        z = np.asarray(box_cxcywh, dtype=np.float64)
        self.x = np.concatenate([z, np.zeros(4)])
        h = max(z[3], 1.0)
        std = np.array([2 * _POS_STD * h] * 4 + [10 * _VEL_STD * h] * 4)
        self.P = np.diag(std ** 2)
        self.frame = frame
        self._H = np.hstack([np.eye(4), np.zeros((4, 4))])

    def predict_to(self, frame: int) -> np.ndarray:
        """Advance the state to ``frame`` (no-op for the current or an earlier frame); the box."""
        dt = frame - self.frame
        if dt > 0:
            F = np.eye(8)
            F[:4, 4:] = dt * np.eye(4)
            h = max(self.x[3], 1.0)
            q = np.array([_POS_STD * h] * 4 + [_VEL_STD * h] * 4) ** 2 * dt
            self.x = F @ self.x
            self.P = F @ self.P @ F.T + np.diag(q)
            self.frame = frame
        return self.box()

    def update(self, box_cxcywh: np.ndarray) -> None:
        z = np.asarray(box_cxcywh, dtype=np.float64)
        h = max(self.x[3], 1.0)
        R = np.diag(np.full(4, (_POS_STD * h) ** 2))
        S = self._H @ self.P @ self._H.T + R
        K = np.linalg.solve(S, self._H @ self.P).T     # P H^T S^-1 (S symmetric)
        self.x = self.x + K @ (z - self._H @ self.x)
        self.P = (np.eye(8) - K @ self._H) @ self.P

    def box(self) -> np.ndarray:
        """[cx, cy, w, h] with the size kept positive (a long coast can drive it below zero)."""
        b = self.x[:4].copy()
        b[2:] = np.maximum(b[2:], 1.0)
        return b
