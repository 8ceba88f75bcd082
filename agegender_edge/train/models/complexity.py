"""Multiply-accumulate count of a model at its input size (conv and linear layers)."""
from __future__ import annotations

import torch
import torch.nn as nn


def count_macs(model: nn.Module, input_size: tuple[int, int]) -> int:
    macs = 0

    def conv_hook(m: nn.Conv2d, _inp, out):
        nonlocal macs
        kh, kw = m.kernel_size
        macs += out.numel() // out.shape[0] * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m: nn.Linear, _inp, out):
        nonlocal macs
        macs += m.in_features * m.out_features

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, *input_size))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return macs


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
