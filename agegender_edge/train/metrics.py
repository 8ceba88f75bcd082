"""Evaluation metrics (numpy only): exact / 1-off 8-group accuracy, gender accuracy, age MAE,
confusion matrix and per-group tables (age group x gender x race)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from ..labels import AGE_GROUP_LABELS, GENDER_LABELS, RACE_LABELS, age_to_group_nearest


@dataclass
class Predictions:
    gender_probs: np.ndarray     # [N, 2] (female, male)
    age_group_probs: np.ndarray  # [N, 8]
    age_years: np.ndarray        # [N]
    group_rule: str = "argmax"   # as metadata.age_group_rule: "argmax" or "expected_age"

    @property
    def gender(self) -> np.ndarray:
        return self.gender_probs.argmax(axis=1)

    @property
    def age_group(self) -> np.ndarray:
        if self.group_rule == "expected_age":
            return np.array([age_to_group_nearest(float(a)) for a in self.age_years], dtype=np.int64)
        return self.age_group_probs.argmax(axis=1)


@dataclass
class GroupRow:
    age_group: Optional[str]
    gender: Optional[str]
    race: Optional[str]
    n: int
    gender_accuracy: Optional[float]
    age_group_accuracy: Optional[float]
    one_off_accuracy: Optional[float]
    age_mae: Optional[float]


@dataclass
class EvalReport:
    n: int
    gender_accuracy: float
    age_group_accuracy: float
    one_off_accuracy: float
    age_mae: Optional[float]
    confusion: list[list[int]]
    per_group: list[GroupRow] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["age_groups"] = list(AGE_GROUP_LABELS)
        return d

    def intervals(self) -> str:
        """The headline figures with their 95% bootstrap intervals (extra["ci95"]), one line."""
        from .intervals import format_interval

        ci = self.extra.get("ci95", {})
        parts = [f"{label} {format_interval(getattr(self, key), ci[key])}"
                 for key, label in (("gender_accuracy", "gender"), ("age_mae", "MAE"),
                                    ("age_group_accuracy", "8-group"), ("one_off_accuracy", "1-off"))
                 if key in ci and getattr(self, key) is not None]
        return "95% intervals: " + "  ".join(parts) if parts else ""

    def summary(self) -> str:
        mae = f"{self.age_mae:.2f}" if self.age_mae is not None else "n/a"
        return (f"n={self.n}  gender {self.gender_accuracy:.4f}  8-group {self.age_group_accuracy:.4f}  "
                f"1-off {self.one_off_accuracy:.4f}  MAE {mae}")


def _mean(x: np.ndarray) -> Optional[float]:
    return float(np.mean(x)) if x.size else None


def _row(mask, pred: Predictions, gender, age_group, age, labels) -> GroupRow:
    g_ok = pred.gender[mask] == gender[mask]
    has_group = mask & (age_group >= 0)
    diff = np.abs(pred.age_group[has_group] - age_group[has_group])
    has_age = mask & np.isfinite(age)
    err = np.abs(pred.age_years[has_age] - age[has_age])
    return GroupRow(*labels, n=int(mask.sum()), gender_accuracy=_mean(g_ok),
                    age_group_accuracy=_mean(diff == 0), one_off_accuracy=_mean(diff <= 1),
                    age_mae=_mean(err))


def _intervals(pred: Predictions, gender, age_group, age) -> dict[str, list[float]]:
    """95% bootstrap intervals of the headline figures (train/intervals.py)."""
    from .intervals import mean_interval

    known, exact = age_group >= 0, np.isfinite(age)
    diff = np.abs(pred.age_group[known] - age_group[known])
    per_item = {"gender_accuracy": pred.gender == gender, "age_group_accuracy": diff == 0,
                "one_off_accuracy": diff <= 1, "age_mae": np.abs(pred.age_years[exact] - age[exact])}
    return {k: [round(v, 4) for v in mean_interval(x)] for k, x in per_item.items() if x.size}


def evaluate_predictions(pred: Predictions, gender: np.ndarray, age_group: np.ndarray,
                         age: np.ndarray, race: Optional[np.ndarray] = None) -> EvalReport:
    n = len(gender)
    if race is None:
        race = np.full(n, -1)
    all_rows = np.ones(n, dtype=bool)
    overall = _row(all_rows, pred, gender, age_group, age, (None, None, None))
    known = age_group >= 0
    conf = np.zeros((len(AGE_GROUP_LABELS),) * 2, dtype=np.int64)
    np.add.at(conf, (age_group[known], pred.age_group[known]), 1)
    rows: list[GroupRow] = []
    # marginals first, then the full age x gender x race cross table (non-empty cells only)
    for gi, gl in enumerate(AGE_GROUP_LABELS):
        rows.append(_row(age_group == gi, pred, gender, age_group, age, (gl, None, None)))
    for si, sl in enumerate(GENDER_LABELS):
        rows.append(_row(gender == si, pred, gender, age_group, age, (None, sl, None)))
    if (race >= 0).any():
        for ri, rl in enumerate(RACE_LABELS):
            rows.append(_row(race == ri, pred, gender, age_group, age, (None, None, rl)))
    for gi, gl in enumerate(AGE_GROUP_LABELS):
        for si, sl in enumerate(GENDER_LABELS):
            races = [(ri, rl) for ri, rl in enumerate(RACE_LABELS)] if (race >= 0).any() else [(-1, None)]
            for ri, rl in races:
                m = (age_group == gi) & (gender == si) & (race == ri)
                if m.any():
                    rows.append(_row(m, pred, gender, age_group, age, (gl, sl, rl)))
    rows = [r for r in rows if r.n > 0]
    alt = Predictions(pred.gender_probs, pred.age_group_probs, pred.age_years,
                      "argmax" if pred.group_rule == "expected_age" else "expected_age")
    alt_diff = np.abs(alt.age_group[known] - age_group[known])
    extra = {"age_group_rule": pred.group_rule,
             f"age_group_accuracy_{alt.group_rule}": float(np.mean(alt_diff == 0)) if alt_diff.size else None,
             f"one_off_accuracy_{alt.group_rule}": float(np.mean(alt_diff <= 1)) if alt_diff.size else None}
    extra["ci95"] = _intervals(pred, gender, age_group, age)
    return EvalReport(
        n=n,
        gender_accuracy=overall.gender_accuracy or 0.0,
        age_group_accuracy=overall.age_group_accuracy or 0.0,
        one_off_accuracy=overall.one_off_accuracy or 0.0,
        age_mae=overall.age_mae,
        confusion=conf.tolist(),
        per_group=rows,
        extra=extra,
    )
