"""Network outputs (one batch) -> typed per-face results.

The model metadata's ``calibration`` (metadata.CalibrationSpec) is applied here, so every caller
of ``decode_outputs`` (Predictor, bench, evaluate) reports the same calibrated figures; the C++
runtime (cpp/src/decode.cpp) does the same arithmetic. Without a calibration section (older
models) the decode is exactly the uncalibrated one.
"""
from __future__ import annotations

import numpy as np

from .metadata import (OUTPUT_AGE_BINS, OUTPUT_AGE_GROUP, OUTPUT_AGE_MEAN, OUTPUT_AGE_STD, OUTPUT_EMBEDDING,
                       OUTPUT_GENDER, CalibrationSpec, ModelMetadata)

# Probabilities are clipped to [eps, 1 - eps] before the logit so a saturated output (exactly 0
# or 1 in float32) stays finite; the C++ decoder uses the same constant.
_LOGIT_EPS = 1e-12


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
                     estimate: str, interval_quantiles: tuple[float, float] = (0.1, 0.9)
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The reported age per face — the distribution's mean (the graph output) or its median, as
    ``estimate`` says — and the 80% interval [N, 2] (the ``interval_quantiles`` pair: 0.1 / 0.9
    uncalibrated, the calibrated pair from the metadata otherwise), from one pass over the CDFs."""
    median = estimate == "median"
    lo, hi = interval_quantiles
    q = age_quantiles(bin_probs, bins, (lo, hi, 0.5) if median else (lo, hi))
    age = q[:, 2] if median else np.asarray(mean, dtype=np.float32).reshape(-1)
    return age, q[:, :2]


def calibrate_gender(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature-scaled two-class probabilities [N, 2]: p1' = sigmoid(logit(p1) / T), p0' = 1 - p1'
    (computed in float64, returned as float32). T = 1 returns the input unchanged."""
    probs = np.asarray(probs, dtype=np.float32)
    if temperature == 1.0:
        return probs
    p = np.clip(probs.astype(np.float64), _LOGIT_EPS, 1.0 - _LOGIT_EPS)
    # logit of class 1 relative to class 0: log(p1 / p0), robust when p0 + p1 is not exactly 1
    z = (np.log(p[:, 1]) - np.log(p[:, 0])) / float(temperature)
    p1 = 1.0 / (1.0 + np.exp(-z))
    return np.stack([1.0 - p1, p1], axis=1).astype(np.float32)


def calibrated_outputs(outputs: dict[str, np.ndarray], calibration: CalibrationSpec
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(calibrated gender probabilities [N, 2], age interval quantile pair) for one batch."""
    return (calibrate_gender(outputs[OUTPUT_GENDER], calibration.gender_temperature),
            calibration.age_interval_quantiles)


def decode_outputs(outputs: dict[str, np.ndarray], meta: ModelMetadata, embeddings: bool = False) -> list[dict]:
    """Per-face dicts with the FaceResult prediction fields (boxes are added by the caller);
    ``embeddings``: also ``embedding`` (the descriptor output, a tuple of floats) when the batch has it."""
    gender, quantiles = calibrated_outputs(outputs, meta.calibration)
    groups = outputs[OUTPUT_AGE_GROUP]
    bins = np.asarray(meta.age_bins, dtype=np.float32)
    age, interval = age_and_interval(outputs[OUTPUT_AGE_BINS], bins, outputs[OUTPUT_AGE_MEAN], meta.age_estimate,
                                     quantiles)
    std = outputs[OUTPUT_AGE_STD].reshape(-1)
    g_idx = gender.argmax(axis=1)
    # the reported group is the most probable one (np.argmax: the first of equal maxima), whatever
    # the model's age_group_rule: its probability is the largest of age_group_probs. The age in
    # years keeps its own rule (age_estimate: mean or median of the age distribution), so the two
    # may name different groups when the distribution is wide (MODEL_CARD.md: both rules' accuracy).
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
    if embeddings and OUTPUT_EMBEDDING in outputs:
        for face, row in zip(faces, np.asarray(outputs[OUTPUT_EMBEDDING], dtype=np.float32)):
            face["embedding"] = tuple(row.tolist())
    return faces
