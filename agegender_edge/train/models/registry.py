"""Architecture registry (timm style): ``@register_model`` on a factory, ``create_model(name)``.

Each architecture also declares its default preprocessing (input size, crop, mean/std), which the
exporter writes into the ONNX metadata; nothing else hard-codes it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch.nn as nn

from ...metadata import CropSpec, InputSpec


@dataclass(frozen=True)
class ArchSpec:
    name: str
    factory: Callable[..., nn.Module]
    input: InputSpec
    crop: CropSpec
    description: str
    # Landmark template in units of the network input (metadata.AlignSpec.template) for
    # architectures whose faces are framed by their own convention (e.g. dlib's 150 px chip);
    # None: the UTKFace-chip template mapped through ``crop`` (train/data/aligned.py).
    align_template: Optional[tuple[tuple[float, float], ...]] = None
    # Side of the stored aligned training crops (the input plus a margin for crop / affine
    # jitter); None: ``crop.resize_to``, which then doubles as the ready-chip crop rule.
    aligned_size: Optional[int] = None

    @property
    def train_size(self) -> int:
        """Side of this architecture's stored training crops (``prepare --align``)."""
        return self.aligned_size or self.crop.resize_to


_REGISTRY: dict[str, ArchSpec] = {}


def register_model(name: str, input: InputSpec, crop: CropSpec, description: str,
                   align_template: Optional[tuple[tuple[float, float], ...]] = None,
                   aligned_size: Optional[int] = None):
    def wrap(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = ArchSpec(name, factory, input, crop, description, align_template, aligned_size)
        return factory
    return wrap


def _ensure_loaded() -> None:
    # importing the modules runs their @register_model decorators
    from . import dlib_resnet, edge_resnet, levi_hassner  # noqa: F401


def get_arch(name: str) -> ArchSpec:
    _ensure_loaded()
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; known: {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def create_model(name: str, num_age_bins: int, **kwargs) -> nn.Module:
    return get_arch(name).factory(num_age_bins=num_age_bins, **kwargs)


def list_models() -> list[str]:
    _ensure_loaded()
    return sorted(_REGISTRY)
