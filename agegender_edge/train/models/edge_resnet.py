"""EdgeResNet: a small ResNet-style CNN for 96 px face crops (the shipped default).

Why plain 3x3 convolutions rather than depthwise-separable ones: on CPUs (ONNX Runtime, oneDNN)
and on TensorRT, dense 3x3 convs run near peak while depthwise convs are memory bound, so at this
size a narrow dense ResNet is faster per MAC and trains far faster on CPU. Budget: < 1/5 of the
Levi-Hassner MACs (0.709 GMAC).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ...metadata import CropSpec, InputSpec
from .heads import AgeGenderHeads
from .registry import register_model

# ImageNet statistics on the 0-255 scale; applied inside the exported graph.
EDGE_INPUT = InputSpec(size=(96, 96), colour_order="RGB",
                       mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375))
EDGE_CROP = CropSpec(chip="utkface", resize_to=112, interpolation="area")


def conv_bn(cin: int, cout: int, stride: int = 1, relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, cout, stride), conv_bn(cout, cout, relu=False))
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(
                nn.AvgPool2d(stride) if stride > 1 else nn.Identity(),
                nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout),
            )
        nn.init.zeros_(self.body[1][1].weight)  # zero-init last BN: each block starts as identity
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.skip(x))


class EdgeResNet(nn.Module):
    def __init__(self, num_age_bins: int = 101, widths=(40, 80, 160, 320), depths=(2, 2, 2, 2),
                 stem: int = 24, dropout: float = 0.2):
        super().__init__()
        # two stride-2 convs: 96 -> 24 before the first block keeps the MACs at ~128 M
        self.stem = nn.Sequential(conv_bn(3, stem, 2), conv_bn(stem, widths[0], 2))
        blocks: list[nn.Module] = []
        cin = widths[0]
        for i, (w, d) in enumerate(zip(widths, depths)):
            for j in range(d):
                blocks.append(BasicBlock(cin, w, 2 if (j == 0 and i > 0) else 1))
                cin = w
        self.blocks = nn.Sequential(*blocks)                                        # 24 -> 3
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.heads = AgeGenderHeads(cin, num_age_bins, dropout=dropout)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 320] pooled features the heads read (the exported face descriptor, postprocess.py)."""
        return self.pool(self.blocks(self.stem(x)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.heads(self.features(x))


@register_model("edge_resnet", EDGE_INPUT, EDGE_CROP, "EdgeResNet (ResNet-18 layout, narrow), 96 px, 128 MMAC: the shipped default")
def edge_resnet(num_age_bins: int = 101, **kwargs) -> EdgeResNet:
    return EdgeResNet(num_age_bins=num_age_bins, **kwargs)

