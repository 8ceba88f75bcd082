"""Logits -> the product's outputs, as a torch module so the exported ONNX graph contains it.

Outputs (names in metadata.OUTPUT_NAMES): gender probabilities, 8 age-group probabilities
(the age-bin distribution summed per nearest group), expected age and its std, and the bin
distribution itself (runtimes derive intervals from it).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from ..labels import AGE_GROUPS, age_group_midpoints, age_to_group_nearest


def age_bins_for(num_bins: int) -> np.ndarray:
    """Bin centres in years: 101 one-year bins 0..100, or the 8 group midpoints."""
    if num_bins == len(AGE_GROUPS):
        return np.asarray(age_group_midpoints(), dtype=np.float32)
    return np.arange(num_bins, dtype=np.float32)


def bin_to_group_matrix(bins: np.ndarray) -> np.ndarray:
    """[K, 8] 0/1 matrix: which group each bin belongs to (nearest rule)."""
    if len(bins) == len(AGE_GROUPS):
        return np.eye(len(AGE_GROUPS), dtype=np.float32)
    m = np.zeros((len(bins), len(AGE_GROUPS)), dtype=np.float32)
    for i, age in enumerate(bins):
        m[i, age_to_group_nearest(float(age))] = 1.0
    return m


class AgeGenderOutputs(nn.Module):
    def __init__(self, num_age_bins: int):
        super().__init__()
        bins = age_bins_for(num_age_bins)
        self.register_buffer("bins", torch.from_numpy(bins))
        self.register_buffer("groups", torch.from_numpy(bin_to_group_matrix(bins)))

    def forward(self, gender_logits: torch.Tensor, age_logits: torch.Tensor):
        gender = torch.softmax(gender_logits.float(), dim=1)
        p = torch.softmax(age_logits.float(), dim=1)
        mean = p @ self.bins
        var = p @ (self.bins * self.bins) - mean * mean
        std = torch.sqrt(torch.clamp(var, min=0.0))
        return gender, p @ self.groups, mean, std, p


class Normalize(nn.Module):
    """(x - mean) / std on 0-255 input, per channel, inside the graph."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("inv_std", 1.0 / torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) * self.inv_std


class DeployModel(nn.Module):
    """What gets exported: raw 0-255 NCHW pixels in, the five outputs out.

    With ``flip_tta`` the face and its mirror image are run as one batch and averaged in
    probability space, so every runtime gets flip averaging for free.
    """

    def __init__(self, net: nn.Module, num_age_bins: int, mean, std, flip_tta: bool = False):
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.net = net
        self.outputs = AgeGenderOutputs(num_age_bins)
        self.flip_tta = flip_tta

    def forward(self, x: torch.Tensor):
        x = self.normalize(x)
        if self.flip_tta:
            n = x.shape[0]
            g, a = self.net(torch.cat([x, torch.flip(x, dims=[3])], dim=0))
            pg = torch.softmax(g.float(), dim=1)
            pa = torch.softmax(a.float(), dim=1)
            # average probabilities, then back to log space for the shared decoder
            g = torch.log((pg[:n] + pg[n:]) * 0.5 + 1e-12)
            a = torch.log((pa[:n] + pa[n:]) * 0.5 + 1e-12)
            return self.outputs(g, a)
        g, a = self.net(x)
        return self.outputs(g, a)
