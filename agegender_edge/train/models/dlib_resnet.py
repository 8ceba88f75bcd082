"""dlib's CC0 face-recognition ResNet (``dlib_face_recognition_resnet_model_v1``) as a backbone.

The layout of dlib's examples/dnn_face_recognition_ex.cpp (``anet_type``), 150x150 RGB input,
29 conv layers, 0.271 GMAC (count_macs, with the heads)::

    stem    con 32 7x7/2 (pad 0), affine, relu, max_pool 3x3/2 (pad 0)       150 -> 72 -> 35
    level4  3 x ares<32>                                                      35
    level3  ares_down<64> + 3 x ares<64>                                      17
    level2  ares_down<128> + 2 x ares<128>                                    8
    level1  ares_down<256> + 2 x ares<256>                                    4 (block 3, padded)
    level0  ares_down<256>                                                    2 (block 1, padded)
    avg_pool_everything -> 256 features; fc_no_bias 128 -> dlib's descriptor

ares = relu(block(x) + x), block = con3x3 affine relu con3x3 affine; ares_down's first conv has
stride 2 and padding 0 (dlib pads only stride-1 layers) and its shortcut is avg_pool 2x2/2. dlib's
``add_prev`` adds tensors of different sizes by zero-filling the missing channels, rows and
columns (bottom and right), which matters at 64/128/256-channel transitions and in level1 and
level0, where the stride-2 conv's output is smaller than the pooled shortcut. ``affine`` is
per-channel ``gamma*x + beta`` (dlib's batch norm folded; here each conv's bias is folded in too).

``features`` is the pooled 256-D trunk output, ``embedding`` the 128-D descriptor (unnormalised,
as ``compute_face_descriptor`` returns it) and ``forward`` the shared age/gender heads on the
features. Weights: agegender_edge.train.convert.dlib_dat / training/dlib_backbone/convert.py.
"""
from __future__ import annotations

import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...metadata import CropSpec, InputSpec
from .heads import AgeGenderHeads
from .registry import register_model

# dlib's input_rgb_image_sized: (pixel - mean) / 256 per RGB channel
DLIB_INPUT = InputSpec(size=(150, 150), colour_order="RGB",
                       mean=(122.782, 117.001, 104.298), std=(256.0, 256.0, 256.0))
# Ready chips (predict_faces, faces without landmarks): a UTKFace-style chip resized to 140 px sits
# in the 150 px input with a 5 px border, which puts its eyes, nose and mouth where dlib's chip
# has them (the similarity between the two templates: scale 0.70 per 200 px chip, offsets within
# 1 px). UTKFace val through predict_faces, fine-tuned model: 0.935 gender / MAE 4.51 with this
# rule, 0.923 / 4.69 with the plain 166 -> 150 centre crop.
DLIB_CROP = CropSpec(chip="utkface", resize_to=140, interpolation="area")
# stored aligned training crops: 150 + 2 x 8 px margin for crop / affine jitter
DLIB_ALIGNED_SIZE = 166


class Affine(nn.Module):
    """Per-channel scale and shift (a frozen batch norm without statistics): x * weight + bias."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class _ZeroPadEnd(torch.autograd.Function):
    """Append c channels, h rows and w columns of zeros to an NCHW tensor. ONNX: one Pad node with
    constant pads (torch's own F.pad export adds a dozen shape ops around it)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, c: int, h: int, w: int) -> torch.Tensor:
        ctx.size = tuple(x.shape[1:])
        return F.pad(x, (0, w, 0, h, 0, c))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        c, h, w = ctx.size
        return grad[:, :c, :h, :w], None, None, None

    @staticmethod
    def symbolic(g, x, c: int, h: int, w: int):
        pads = g.op("Constant", value_t=torch.tensor([0, 0, 0, 0, 0, c, h, w], dtype=torch.int64))
        return g.op("Pad", x, pads, mode_s="constant")


def add_zero_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's add_prev: the sum over the larger extent of each dimension (channels, rows, columns),
    missing entries 0. The sizes are read as Python ints: when exporting, the spatial size is fixed
    by the InputSpec (only the batch is dynamic), so the pads are constants of the graph."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        sa = [int(v) for v in a.shape[1:]]
        sb = [int(v) for v in b.shape[1:]]
    if sa == sb:
        return a + b
    big = [max(p, q) for p, q in zip(sa, sb)]

    def grow(t: torch.Tensor, s: list[int]) -> torch.Tensor:
        return t if s == big else _ZeroPadEnd.apply(t, *(m - n for m, n in zip(big, s)))

    return grow(a, sa) + grow(b, sb)


class DlibBlock(nn.Module):
    """ares (down=False) or ares_down (down=True: stride-2 unpadded conv, avg-pool shortcut)."""

    def __init__(self, cin: int, cout: int, down: bool):
        super().__init__()
        stride, pad = (2, 0) if down else (1, 1)
        self.down = down
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, pad, bias=False)
        self.bn1 = Affine(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = Affine(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        skip = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(add_zero_padded(y, skip))


def _level(cin: int, width: int, count: int, down: bool) -> nn.Sequential:
    return nn.Sequential(*[DlibBlock(cin if i == 0 else width, width, down and i == 0) for i in range(count)])


def fold_affine(module: nn.Module) -> nn.Module:
    """A copy of ``module`` for inference with every conv -> Affine pair folded into one conv with
    a bias (the scale into the weights): the exported graph then has plain Conv nodes, which ONNX
    Runtime's INT8 quantizer and TensorRT handle without a Mul / Add pass over each activation."""
    import copy

    module = copy.deepcopy(module)
    pairs = []
    for mod in module.modules():
        kids = list(mod.named_children())
        pairs += [(mod, na, a, nb, b) for (na, a), (nb, b) in zip(kids, kids[1:])
                  if isinstance(a, nn.Conv2d) and isinstance(b, Affine)]
        if isinstance(mod, DlibBlock):
            pairs += [(mod, "conv1", mod.conv1, "bn1", mod.bn1), (mod, "conv2", mod.conv2, "bn2", mod.bn2)]
    with torch.no_grad():
        for mod, conv_name, conv, affine_name, aff in pairs:
            fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                              bias=True)
            fused.weight.copy_(conv.weight * aff.weight.view(-1, 1, 1, 1))
            fused.bias.copy_(aff.bias if conv.bias is None else conv.bias * aff.weight + aff.bias)
            setattr(mod, conv_name, fused)
            setattr(mod, affine_name, nn.Identity())
    return module


class DlibFaceResNet(nn.Module):
    def __init__(self, num_age_bins: int = 101, dropout: float = 0.0):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 7, 2, 0, bias=False), Affine(32), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, 2))
        self.level4 = _level(32, 32, 3, down=False)
        self.level3 = _level(32, 64, 4, down=True)
        self.level2 = _level(64, 128, 3, down=True)
        self.level1 = _level(128, 256, 3, down=True)
        self.level0 = _level(256, 256, 1, down=True)
        self.fc = nn.Linear(256, 128, bias=False)          # dlib's fc_no_bias<128>: the descriptor
        self.heads = AgeGenderHeads(256, num_age_bins, dropout=dropout)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[N,3,150,150] normalised input -> [N,256] pooled trunk features."""
        x = self.stem(x)
        for level in (self.level4, self.level3, self.level2, self.level1, self.level0):
            x = level(x)
        return x.mean(dim=(2, 3))

    def embedding(self, features: torch.Tensor) -> torch.Tensor:
        """[N,256] features -> [N,128] dlib face descriptor (not normalised)."""
        return self.fc(features)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.heads(self.features(x))

    def fused(self) -> "DlibFaceResNet":
        """The same function for export: each conv's Affine folded into it (``fold_affine``)."""
        return fold_affine(self).eval()


# Where YuNet's five points sit on dlib's own chip (get_face_chip, 150 px, padding 0.25), in units
# of the chip: the median over 1,457 UTKFace / AAF train faces, mirror-symmetrised. Cutting with it
# gives the descriptor of dlib's own chip at cosine 0.994 (median; 5th percentile 0.987) on 288
# val faces. Reproduce: python training/dlib_resnet_aligned/measure_template.py (template.json).
DLIB_CHIP_TEMPLATE = ((0.311885, 0.304656), (0.688115, 0.304656), (0.5, 0.500473),
                      (0.341874, 0.656993), (0.658126, 0.656993))


@register_model("dlib_resnet", DLIB_INPUT, DLIB_CROP,
                "dlib's CC0 face-recognition ResNet (29 convs), 150 px, 0.27 GMAC: backbone for fine-tuning",
                align_template=DLIB_CHIP_TEMPLATE, aligned_size=DLIB_ALIGNED_SIZE)
def dlib_resnet(num_age_bins: int = 101, dropout: float = 0.0, **kwargs) -> DlibFaceResNet:
    return DlibFaceResNet(num_age_bins=num_age_bins, dropout=dropout, **kwargs)
