"""Model metadata: everything the runtime needs to preprocess faces and decode outputs.

Written once by the exporter into the ONNX ``metadata_props`` (key ``agegender_edge``, a JSON
document) and copied into an engine's sidecar JSON; read back by every runtime (Python and C++).
Nothing here is hard-coded anywhere else.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Optional

from .errors import ModelFormatError

METADATA_KEY = "agegender_edge"
FORMAT_VERSION = 1
AGE_GROUP_RULES = ("argmax", "expected_age")
AGE_ESTIMATES = ("mean", "median")

# Output tensor names of every exported model (see train/export_onnx.py, which builds them).
OUTPUT_GENDER = "gender_probs"        # [N, 2]  order: metadata.gender_labels
OUTPUT_AGE_GROUP = "age_group_probs"  # [N, 8]  order: metadata.age_groups
OUTPUT_AGE_MEAN = "age_years"         # [N]     expected age in years
OUTPUT_AGE_STD = "age_std"            # [N]     std of the predicted age distribution
OUTPUT_AGE_BINS = "age_bin_probs"     # [N, K]  distribution over metadata.age_bins
OUTPUT_NAMES = (OUTPUT_GENDER, OUTPUT_AGE_GROUP, OUTPUT_AGE_MEAN, OUTPUT_AGE_STD, OUTPUT_AGE_BINS)


@dataclass(frozen=True)
class InputSpec:
    """How a face crop becomes the network input."""

    name: str = "input"
    size: tuple[int, int] = (96, 96)          # (height, width) fed to the network
    colour_order: str = "RGB"                 # channel order the network expects
    layout: str = "NCHW"
    value_range: tuple[float, float] = (0.0, 255.0)  # what the runtime feeds (raw pixels)
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)   # in colour_order, on the 0-255 scale
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    # True: (x - mean) / std is a node inside the graph, so runtimes feed raw 0-255 pixels
    # (DeepStream's single net-scale-factor cannot express per-channel std).
    normalize_in_graph: bool = True


@dataclass(frozen=True)
class CropSpec:
    """Crop rule, timm style: face chip -> resize to ``resize_to`` -> centre crop ``input.size``.

    ``chip`` names how a detector box becomes a face chip like the training images:
    "utkface" = a square chip around the face as in UTKFace's aligned&cropped 200x200 images.
    Each detector carries its own calibrated box->chip mapping (detection/*.py).
    """

    chip: str = "utkface"
    resize_to: int = 112
    interpolation: str = "area"


@dataclass(frozen=True)
class ModelMetadata:
    name: str
    architecture: str
    input: InputSpec = field(default_factory=InputSpec)
    crop: CropSpec = field(default_factory=CropSpec)
    age_groups: tuple[str, ...] = ()
    age_bins: tuple[float, ...] = ()          # centre (years) of each age-distribution bin
    gender_labels: tuple[str, ...] = ("female", "male")
    flip_tta: bool = False                    # True: the graph averages the face and its mirror
    # How the reported age group is chosen: "expected_age" = the group (nearest rule) of the
    # expected age, consistent with the reported age (models with one-year bins);
    # "argmax" = the most probable group (models trained on groups only).
    age_group_rule: str = "argmax"
    # The reported age: "mean" (the graph's age_years output) or "median" of the age-bin
    # distribution (chosen on val: lower absolute error for skewed distributions). With
    # age_group_rule "expected_age" the group follows the reported age.
    age_estimate: str = "mean"
    precision: str = "fp32"
    training: dict[str, Any] = field(default_factory=dict)   # data, recipe, val metrics
    licence: str = ""
    format_version: int = FORMAT_VERSION
    weights_sha256: Optional[str] = None      # sha256 of the graph's initializers, checked on load

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.to_json())

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "<metadata>") -> "ModelMetadata":
        try:
            version = int(d.get("format_version", -1))
        except (TypeError, ValueError):
            raise ModelFormatError(f"{source}: metadata format_version is not an integer")
        if version > FORMAT_VERSION:
            raise ModelFormatError(
                f"{source}: model metadata format {version} is newer than this SDK supports "
                f"({FORMAT_VERSION}); upgrade agegender-edge"
            )
        if version < 1:
            raise ModelFormatError(f"{source}: metadata has no valid format_version")
        try:
            inp = dict(d["input"])
            for key in ("size", "value_range", "mean", "std"):
                if key in inp:
                    inp[key] = tuple(inp[key])
            meta = cls(
                name=d["name"],
                architecture=d["architecture"],
                input=InputSpec(**inp),
                crop=CropSpec(**d.get("crop", {})),
                age_groups=tuple(d["age_groups"]),
                age_bins=tuple(float(b) for b in d["age_bins"]),
                gender_labels=tuple(d["gender_labels"]),
                flip_tta=bool(d.get("flip_tta", False)),
                age_group_rule=str(d.get("age_group_rule", "argmax")),
                age_estimate=str(d.get("age_estimate", "mean")),
                precision=d.get("precision", "fp32"),
                training=dict(d.get("training", {})),
                licence=d.get("licence", ""),
                format_version=version,
                weights_sha256=d.get("weights_sha256"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFormatError(f"{source}: malformed agegender_edge metadata ({exc!r})") from exc
        if meta.age_group_rule not in AGE_GROUP_RULES:
            raise ModelFormatError(f"{source}: unknown age_group_rule {meta.age_group_rule!r} (want one of {AGE_GROUP_RULES})")
        if meta.age_estimate not in AGE_ESTIMATES:
            raise ModelFormatError(f"{source}: unknown age_estimate {meta.age_estimate!r} (want one of {AGE_ESTIMATES})")
        return meta

    @classmethod
    def from_json(cls, text: str, source: str = "<metadata>") -> "ModelMetadata":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelFormatError(f"{source}: metadata is not valid JSON ({exc})") from exc
        if not isinstance(d, dict):
            raise ModelFormatError(f"{source}: metadata is not a JSON object")
        return cls.from_dict(d, source)

    def replace(self, **changes: Any) -> "ModelMetadata":
        return dataclasses.replace(self, **changes)
