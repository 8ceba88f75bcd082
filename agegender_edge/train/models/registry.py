"""Architecture registry (timm style): ``@register_model`` on a factory, ``create_model(name)``.

Each architecture also declares its default preprocessing (input size, crop, mean/std), which the
exporter writes into the ONNX metadata; nothing else hard-codes it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch.nn as nn

from ...metadata import CropSpec, InputSpec


@dataclass(frozen=True)
class ArchSpec:
    name: str
    factory: Callable[..., nn.Module]
    input: InputSpec
    crop: CropSpec
    description: str


_REGISTRY: dict[str, ArchSpec] = {}


def register_model(name: str, input: InputSpec, crop: CropSpec, description: str):
    def wrap(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = ArchSpec(name, factory, input, crop, description)
        return factory
    return wrap


def _ensure_loaded() -> None:
    # importing the modules runs their @register_model decorators
    from . import edge_resnet, levi_hassner  # noqa: F401


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
