"""Network outputs (one batch) -> typed per-face results."""
from __future__ import annotations

import numpy as np

from .labels import nearest_group, parse_group_label
from .metadata import (OUTPUT_AGE_BINS, OUTPUT_AGE_GROUP, OUTPUT_AGE_MEAN, OUTPUT_AGE_STD,
                       OUTPUT_GENDER, ModelMetadata)


def age_quantiles(bin_probs: np.ndarray, bins: np.ndarray, qs=(0.1, 0.9)) -> np.ndarray:
    """[N, len(qs)] quantiles of each age distribution (linear within the bin CDF)."""
    cdf = np.cumsum(bin_probs, axis=1)
    cdf /= cdf[:, -1:]
    out = np.empty((len(bin_probs), len(qs)), dtype=np.float32)
    for j, q in enumerate(qs):
        for i in range(len(cdf)):
            out[i, j] = np.interp(q, cdf[i], bins)
    return out


def age_and_interval(bin_probs: np.ndarray, bins: np.ndarray, mean: np.ndarray,
                     estimate: str) -> tuple[np.ndarray, np.ndarray]:
    """The reported age per face — the distribution's mean (the graph output) or its median, as
    ``estimate`` says — and the 80% interval [N, 2], from one pass over the CDFs."""
    median = estimate == "median"
    q = age_quantiles(bin_probs, bins, (0.1, 0.9, 0.5) if median else (0.1, 0.9))
    age = q[:, 2] if median else np.asarray(mean, dtype=np.float32).reshape(-1)
    return age, q[:, :2]


def decode_outputs(outputs: dict[str, np.ndarray], meta: ModelMetadata) -> list[dict]:
    """Per-face dicts with the FaceResult prediction fields (boxes are added by the caller)."""
    gender = outputs[OUTPUT_GENDER]
    groups = outputs[OUTPUT_AGE_GROUP]
    bins = np.asarray(meta.age_bins, dtype=np.float32)
    age, interval = age_and_interval(outputs[OUTPUT_AGE_BINS], bins, outputs[OUTPUT_AGE_MEAN], meta.age_estimate)
    std = outputs[OUTPUT_AGE_STD].reshape(-1)
    g_idx = gender.argmax(axis=1)
    if meta.age_group_rule == "expected_age":
        ranges = [parse_group_label(label) for label in meta.age_groups]
        a_idx = [nearest_group(float(m), ranges) for m in age]
    else:
        a_idx = groups.argmax(axis=1)
    faces = []
    for i in range(len(gender)):
        faces.append({
            "age_group": meta.age_groups[a_idx[i]],
            "age_group_probs": {label: float(p) for label, p in zip(meta.age_groups, groups[i])},
            "age": float(age[i]),
            "age_std": float(std[i]),
            "age_interval_80": (float(interval[i, 0]), float(interval[i, 1])),
            "gender": meta.gender_labels[g_idx[i]],
            "gender_probability": float(gender[i, g_idx[i]]),
        })
    return faces
