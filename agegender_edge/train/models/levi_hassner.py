"""Levi & Hassner (CVPR-W 2015), faithful to the Caffe deploy.prototxt.

227x227 input; conv1 96x7x7/4 -> ReLU -> pool 3/2 -> LRN(5, 1e-4, 0.75);
conv2 256x5x5 p2 -> ReLU -> pool 3/2 -> LRN; conv3 384x3x3 p1 -> ReLU -> pool 3/2;
fc6 512 -> ReLU -> dropout 0.5; fc7 512 -> ReLU -> dropout 0.5; heads.
Caffe pooling rounds the output size UP, hence ceil_mode=True: fc6 sees 384x7x7 = 18,816.
The original trains two separate nets (age, gender); here one trunk feeds both heads.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ...metadata import CropSpec, InputSpec
from .heads import AgeGenderHeads
from .registry import register_model

# Caffe's age_net/gender_net mean image is ~(78.4, 87.8, 114.9) BGR; LH subtracts the mean only.
LH_INPUT = InputSpec(size=(227, 227), colour_order="RGB", mean=(114.9, 87.8, 78.4), std=(1.0, 1.0, 1.0))
LH_CROP = CropSpec(chip="utkface", resize_to=256, interpolation="area")


class LeviHassner(nn.Module):
    def __init__(self, num_age_bins: int = 8, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=7, stride=4),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, ceil_mode=True),
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0),
            nn.Conv2d(96, 256, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, ceil_mode=True),
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0),
            nn.Conv2d(256, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, ceil_mode=True),
        )
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Linear(384 * 7 * 7, 512),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(512, 512),
            nn.ReLU(inplace=True),
        )
        self.heads = AgeGenderHeads(512, num_age_bins, dropout=dropout)
        for m in self.modules():  # Caffe prototxt: gaussian std 0.01 (convs), 0.005 (fc)
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.005)
                nn.init.zeros_(m.bias)

    # The convolutional trunk is registered as the submodule ``features`` (state-dict keys
    # ``features.0.weight`` ... of every checkpoint); the descriptor protocol's ``features()``
    # method below shadows the attribute, so the trunk is reached through ``_modules``.
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 512] fc7 features the heads read (the exported face descriptor, postprocess.py)."""
        return self.fc(self._modules["features"](x))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.heads(self.features(x))


@register_model("levi_hassner", LH_INPUT, LH_CROP, "Levi & Hassner 2015 CNN, Caffe-faithful, 227 px")
def levi_hassner(num_age_bins: int = 8, **kwargs) -> LeviHassner:
    return LeviHassner(num_age_bins=num_age_bins, **kwargs)
