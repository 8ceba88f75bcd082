"""Logits -> the product's outputs, as a torch module so the exported ONNX graph contains it.

Outputs (names in metadata.OUTPUT_NAMES): gender probabilities, 8 age-group probabilities
(the age-bin distribution summed per nearest group), expected age and its std, and the bin
distribution itself (runtimes derive intervals from it); then, for an architecture that follows
the descriptor protocol (``features``, optionally ``embedding``; see ``DeployModel``), the face
descriptor ``embedding`` (metadata.OUTPUT_EMBEDDING), L2-normalised.
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


EMBEDDING_EPS = 1e-12   # the L2 norm is clamped to this before dividing (an all-zero descriptor stays 0)


def has_descriptor(net: nn.Module) -> bool:
    """True when ``net`` follows the descriptor protocol: a ``features(x) -> [N, F]`` method
    (pooled features, ``x`` normalised) with ``heads(features) -> (gender, age logits)``."""
    return callable(getattr(type(net), "features", None)) and hasattr(net, "heads")


def descriptor_dim(net: nn.Module, input_size: tuple[int, int]) -> int:
    """Values per face of the exported ``embedding`` output (0: the net has no descriptor)."""
    if not has_descriptor(net):
        return 0
    h, w = input_size
    was_training = net.training
    net.eval()
    with torch.no_grad():
        f = net.features(torch.zeros(1, 3, h, w))
        d = net.embedding(f) if hasattr(net, "embedding") else f
    net.train(was_training)
    return int(d.shape[1])


def l2_normalize(d: torch.Tensor) -> torch.Tensor:
    """Row-wise d / max(||d||, eps); exports as ReduceL2 -> Clip -> Div (no initializer)."""
    return d / torch.clamp(torch.linalg.vector_norm(d, dim=1, keepdim=True), min=EMBEDDING_EPS)


class DeployModel(nn.Module):
    """What gets exported: raw 0-255 NCHW pixels in, the five outputs out, plus the face
    descriptor ``embedding`` [N, D] when ``net`` follows the descriptor protocol:

    * ``net.features(x) -> [N, F]``: the pooled features the heads read (``x`` normalised);
    * ``net.heads(features) -> (gender_logits, age_logits)``: the heads (``net(x)`` must equal
      ``net.heads(net.features(x))`` in eval mode);
    * optionally ``net.embedding(features) -> [N, D]`` (e.g. a face-recognition descriptor);
      without it the descriptor is the features themselves.

    The exported descriptor is L2-normalise(net.embedding(f) if present else f): one network pass
    gives both the predictions and the descriptor. With ``flip_tta`` the face and its mirror
    image are run as one batch; probabilities are averaged (as before) and so are the two
    descriptors (before normalising). ``with_embedding=False`` (the default, for the training-side
    callers that unpack five outputs) or a net without ``features``: the five outputs only.
    """

    def __init__(self, net: nn.Module, num_age_bins: int, mean, std, flip_tta: bool = False,
                 with_embedding: bool = False):
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.net = net
        self.outputs = AgeGenderOutputs(num_age_bins)
        self.flip_tta = flip_tta
        self.with_embedding = with_embedding and has_descriptor(net)

    def _run(self, x: torch.Tensor):
        if not self.with_embedding:
            g, a = self.net(x)
            return g, a, None
        f = self.net.features(x)
        g, a = self.net.heads(f)
        d = self.net.embedding(f) if hasattr(self.net, "embedding") else f
        return g, a, d.float()

    def forward(self, x: torch.Tensor):
        x = self.normalize(x)
        if self.flip_tta:
            n = x.shape[0]
            g, a, d = self._run(torch.cat([x, torch.flip(x, dims=[3])], dim=0))
            pg = torch.softmax(g.float(), dim=1)
            pa = torch.softmax(a.float(), dim=1)
            # average probabilities, then back to log space for the shared decoder
            g = torch.log((pg[:n] + pg[n:]) * 0.5 + 1e-12)
            a = torch.log((pa[:n] + pa[n:]) * 0.5 + 1e-12)
            if d is not None:
                d = d[:n] + d[n:]          # the mean of face and mirror, up to the scale the norm removes
        else:
            g, a, d = self._run(x)
        out = self.outputs(g, a)
        return out if d is None else (*out, l2_normalize(d))
