"""Per-track smoothing of the per-frame predictions: weighted averages of probabilities, never
of labels.

A track is one person, whose age and gender do not change while it is visible, so each frame is
one more noisy look at the same answer. Each face is weighted by its quality:

    weight = detection score                          (a clear, frontal face counts more)
           x ``propagated_weight``                    (box moved by the tracker, not detected)
           x 0.5 ** (frames since / ``half_life``)    (optional forgetting; None = none)

* gender: the weighted mean of the class probabilities (a linear opinion pool). Consecutive
  frames are strongly correlated, so multiplying them as independent evidence (averaging
  log-odds) would be over-confident; the linear pool stays calibrated.
* age group: the weighted mean of the 8 group probabilities; the group is the most probable one
  of the mean, as decode.py chooses it for one image (whatever the model's ``age_group_rule``).
* age: the per-frame results carry the distribution's quantiles (median, 10th and 90th
  percentile), not the 101 bins, so the distributions are averaged by their quantile functions
  (Vincent averaging): the smoothed median, q10 and q90 are the weighted means of the per-frame
  ones. That is one coherent distribution — a monotone quantile function whose median and 80%
  interval are the reported figures — not three unrelated averages.

``TrackSmoother`` keeps running (exponentially decayed) sums, O(1) per face, plus a bounded
history of the observations for inspection.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..results import FaceResult
from .results import TrackEstimate


@dataclass(frozen=True)
class Smoothing:
    """How a track averages its faces (see the module docstring)."""

    half_life: Optional[float] = None   # frames; None: every face of the track counts equally (x its weight)
    propagated_weight: float = 0.5      # faces cut at tracker-propagated boxes (every > 1)
    min_weight: float = 1e-3            # floor, so a low-score detection still counts a little
    history: int = 300                  # observations kept per track (the sums cover all of them)

    def __post_init__(self):
        if self.half_life is not None and not self.half_life > 0:
            raise ValueError("half_life must be > 0 frames (or None)")
        if not 0.0 < self.propagated_weight <= 1.0:
            raise ValueError("propagated_weight must be in (0, 1]")


NO_SMOOTHING = Smoothing(half_life=1e-9)   # the track estimate is the current face's own prediction


@dataclass(frozen=True)
class Observation:
    frame: int
    weight: float
    gender_probs: tuple[float, ...]      # in metadata.gender_labels order
    group_probs: tuple[float, ...]       # in metadata.age_groups order
    age: float
    age_low: float
    age_high: float


class TrackSmoother:
    """Running weighted averages of one track's per-frame predictions."""

    def __init__(self, gender_labels: Sequence[str], age_groups: Sequence[str], age_group_rule: str,
                 config: Smoothing = Smoothing()):
        self.gender_labels = tuple(gender_labels)
        self.age_groups = tuple(age_groups)
        self.rule = age_group_rule
        self.config = config
        self.history: deque[Observation] = deque(maxlen=config.history)
        self.count = 0
        self._frame: Optional[int] = None
        self._w = 0.0
        self._gender = np.zeros(len(self.gender_labels))
        self._groups = np.zeros(len(self.age_groups))
        self._age = np.zeros(3)   # median, q10, q90

    def _decay_to(self, frame: int) -> None:
        if self.config.half_life is None or self._frame is None:
            return
        dt = max(0, frame - self._frame)
        if dt:
            f = 0.5 ** (dt / self.config.half_life)
            self._w *= f
            self._gender *= f
            self._groups *= f
            self._age *= f

    def add(self, frame: int, face: FaceResult, detected: bool = True) -> TrackEstimate:
        """Fold one face in and return the estimate over the track so far."""
        w = max(self.config.min_weight, min(1.0, float(face.detection_score)))
        if not detected:
            w *= self.config.propagated_weight
        g = np.array([face.gender_probability if label == face.gender else 1.0 - face.gender_probability
                      for label in self.gender_labels])
        p = np.array([face.age_group_probs.get(label, 0.0) for label in self.age_groups])
        a = np.array([face.age, face.age_interval_80[0], face.age_interval_80[1]])
        self._decay_to(frame)
        self._frame = frame
        self._w += w
        self._gender += w * g
        self._groups += w * p
        self._age += w * a
        self.count += 1
        self.history.append(Observation(frame, w, tuple(g), tuple(p), *map(float, a)))
        return self.estimate()

    def merge(self, other: "TrackSmoother") -> None:
        """Fold another smoother of the same person in (the tracker found two tracks to be one:
        tracker.py, re-identification of a young track)."""
        if other.count == 0:
            return
        if self._frame is not None and other._frame is not None and self.config.half_life is not None:
            last = max(self._frame, other._frame)
            self._decay_to(last)
            f = 0.5 ** (max(0, last - other._frame) / self.config.half_life)
        else:
            last, f = other._frame if self._frame is None else max(self._frame, other._frame or 0), 1.0
        self._frame = last
        self._w += f * other._w
        self._gender += f * other._gender
        self._groups += f * other._groups
        self._age += f * other._age
        self.count += other.count
        merged = sorted(list(self.history) + list(other.history), key=lambda o: o.frame)
        self.history.clear()
        self.history.extend(merged[-self.config.history:])

    def estimate(self) -> TrackEstimate:
        if self._w <= 0:
            raise ValueError("no observation yet")
        gender = self._gender / self._w
        groups = self._groups / self._w
        age, low, high = (float(v) for v in self._age / self._w)
        gi = int(np.argmax(gender))
        # the most probable group of the averaged probabilities, as decode.py reports a frame's
        # (whatever the model's age_group_rule; issue 21), so track and frame follow one rule
        ai = int(np.argmax(groups))
        return TrackEstimate(age=age, age_interval_80=(low, high), age_group=self.age_groups[ai],
                             age_group_probability=float(groups[ai]), gender=self.gender_labels[gi],
                             gender_probability=float(gender[gi]), observations=self.count)
