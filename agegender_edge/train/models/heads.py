"""The shared two-head output: gender logits and age-bin logits (no ReLU on logits).

Every architecture ends in ``AgeGenderHeads`` and returns ``(gender_logits [N,2],
age_logits [N,K])``. K is the number of age bins: 101 one-year bins (0..100) for data with exact
ages, or 8 group bins for group-only data (Adience). Probabilities, expected age, its std and the
8 group probabilities are computed from these in ``postprocess.AgeGenderOutputs`` (also in ONNX).
"""
from __future__ import annotations

import torch
import torch.nn as nn


class AgeGenderHeads(nn.Module):
    def __init__(self, in_features: int, num_age_bins: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.gender = nn.Linear(in_features, 2)
        self.age = nn.Linear(in_features, num_age_bins)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.dropout(features)
        return self.gender(x), self.age(x)
