"""Model metadata: everything the runtime needs to preprocess faces and decode outputs.

Written once by the exporter into the ONNX ``metadata_props`` (key ``agegender_edge``, a JSON
document) and copied into an engine's sidecar JSON; read back by every runtime (Python and C++).
Nothing here is hard-coded anywhere else.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Optional

from .errors import ModelFormatError

METADATA_KEY = "agegender_edge"
# 2: optional ``align`` (landmark alignment) and ``calibration`` sections. A runtime that knows
# only format 1 would silently ignore them and cut faces the wrong way, so it must refuse.
FORMAT_VERSION = 2
AGE_GROUP_RULES = ("argmax", "expected_age")
AGE_ESTIMATES = ("mean", "median")

# Output tensor names of every exported model (see train/export_onnx.py, which builds them).
OUTPUT_GENDER = "gender_probs"        # [N, 2]  order: metadata.gender_labels
OUTPUT_AGE_GROUP = "age_group_probs"  # [N, 8]  order: metadata.age_groups
OUTPUT_AGE_MEAN = "age_years"         # [N]     expected age in years
OUTPUT_AGE_STD = "age_std"            # [N]     std of the predicted age distribution
OUTPUT_AGE_BINS = "age_bin_probs"     # [N, K]  distribution over metadata.age_bins
OUTPUT_NAMES = (OUTPUT_GENDER, OUTPUT_AGE_GROUP, OUTPUT_AGE_MEAN, OUTPUT_AGE_STD, OUTPUT_AGE_BINS)
# Optional sixth output, present when the metadata has an ``embedding`` section: a face
# descriptor [N, D], L2-normalised float32 (the pooled features under the heads, or a face-
# recognition embedding). An older file without the section simply has no descriptor.
OUTPUT_EMBEDDING = "embedding"


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
class AlignSpec:
    """Landmark alignment: a similarity transform (rotation, uniform scale, translation; least
    squares over the five points) from the detector's landmarks to ``template``, warped straight
    to the network input size in one ``cv2.warpAffine`` (agegender_edge/align.py; the C++ runtime
    does the same arithmetic).

    ``template``: five (x, y) points in units of the network input's width / height (0..1),
    in the detector's landmark order ``landmarks`` ("yunet5": right eye, left eye, nose tip,
    right and left mouth corner, as seen in the image). The template is the mirror-symmetrised
    median of YuNet's landmarks on UTKFace train chips mapped through the training crop rule, so
    an aligned face has the scale and framing the network was trained on.
    ``antialias``: when the warp shrinks by more than 2x, the face region is first reduced by the
    integer factor floor(1/scale) with INTER_AREA (exact box averaging), then warped.
    Faces without landmarks (Haar, ``detector=None``) use the box / chip rule of ``CropSpec``.
    """

    method: str = "similarity5"
    landmarks: str = "yunet5"
    template: tuple[tuple[float, float], ...] = ()
    interpolation: str = "linear"
    border: str = "replicate"                 # what the warp samples outside the image
    antialias: bool = True


@dataclass(frozen=True)
class CalibrationSpec:
    """Post-hoc calibration applied by every runtime's decoder (fitted on data the model was not
    selected on; see training/calibrate.py).

    Gender: p' = sigmoid(logit(p) / gender_temperature) for the two-class probabilities.
    Age interval: the reported ``age_interval_80`` is the [lower, upper] quantile pair of the age
    distribution that covered 80% of true ages on the calibration data (instead of 0.1 / 0.9).
    """

    gender_temperature: float = 1.0
    age_interval_quantiles: tuple[float, float] = (0.1, 0.9)
    fitted_on: str = ""


@dataclass(frozen=True)
class EmbeddingSpec:
    """The model's face descriptor output (``OUTPUT_EMBEDDING``): ``dim`` values per face,
    L2-normalised, so the cosine distance of two faces is ``1 - a . b`` (0 same, up to 2).

    ``source``: "pooled_features" (the pooled features under the age/gender heads) or
    "face_recognition" (a descriptor trained for identity). ``flip``: how a flip-TTA graph makes
    it ("mean": the descriptors of the face and its mirror averaged, then normalised).
    ``match_threshold``: the cosine distance above which two faces are taken for different people
    (the video tracker's appearance gate), chosen on data for THIS model by
    training/embedding_threshold.py (``threshold_fitted_on`` says on what); None: not chosen yet
    (the tracker then uses its own fallback, video/tracker.py)."""

    dim: int
    output: str = OUTPUT_EMBEDDING
    normalization: str = "l2"
    source: str = "pooled_features"
    flip: str = "none"
    match_threshold: Optional[float] = None
    threshold_fitted_on: str = ""


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
    # The group rule the model was selected with in training ("expected_age": the group (nearest
    # rule) of the reported age, models with one-year bins; "argmax": the most probable group).
    # Recorded for evaluation only: since issue 21 every runtime reports the most probable group
    # (decode.py), and `evaluate` prints the accuracy under both rules.
    age_group_rule: str = "argmax"
    # The reported age: "mean" (the graph's age_years output) or "median" of the age-bin
    # distribution (chosen on val: lower absolute error for skewed distributions).
    age_estimate: str = "mean"
    align: Optional[AlignSpec] = None         # None: faces are cut by the box rule only
    calibration: CalibrationSpec = field(default_factory=CalibrationSpec)
    precision: str = "fp32"
    training: dict[str, Any] = field(default_factory=dict)   # data, recipe, val metrics
    licence: str = ""
    format_version: int = FORMAT_VERSION
    weights_sha256: Optional[str] = None      # sha256 of the graph's initializers, checked on load
    # Optional (format 2 stays: a reader that ignores it just has no descriptor): the graph has
    # the ``embedding`` output described here. None: no descriptor output.
    embedding: Optional[EmbeddingSpec] = None

    @property
    def embedding_dim(self) -> int:
        """Values per face of the ``embedding`` output; 0 when the model has none."""
        return self.embedding.dim if self.embedding is not None else 0

    def to_json(self) -> str:
        d = dataclasses.asdict(self)
        if d["embedding"] is None:      # a model without the descriptor writes what it always wrote
            del d["embedding"]
        return json.dumps(d, sort_keys=True)

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
                align=_align_from_dict(d.get("align")),
                calibration=_calibration_from_dict(d.get("calibration")),
                precision=d.get("precision", "fp32"),
                training=dict(d.get("training", {})),
                licence=d.get("licence", ""),
                format_version=version,
                weights_sha256=d.get("weights_sha256"),
                embedding=_embedding_from_dict(d.get("embedding")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFormatError(f"{source}: malformed agegender_edge metadata ({exc!r})") from exc
        if meta.age_group_rule not in AGE_GROUP_RULES:
            raise ModelFormatError(f"{source}: unknown age_group_rule {meta.age_group_rule!r} (want one of {AGE_GROUP_RULES})")
        if meta.age_estimate not in AGE_ESTIMATES:
            raise ModelFormatError(f"{source}: unknown age_estimate {meta.age_estimate!r} (want one of {AGE_ESTIMATES})")
        _check_align(meta.align, source)
        _check_calibration(meta.calibration, source)
        _check_embedding(meta.embedding, source)
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


ALIGN_METHODS = ("similarity5",)
ALIGN_LANDMARKS = ("yunet5",)
ALIGN_BORDERS = ("replicate", "constant")
ALIGN_INTERPOLATIONS = ("linear", "cubic")


def _align_from_dict(d: Optional[dict]) -> Optional[AlignSpec]:
    if d is None:
        return None
    d = dict(d)
    d["template"] = tuple((float(x), float(y)) for x, y in d.get("template", ()))
    return AlignSpec(**d)


def _calibration_from_dict(d: Optional[dict]) -> CalibrationSpec:
    if d is None:
        return CalibrationSpec()
    d = dict(d)
    if "age_interval_quantiles" in d:
        d["age_interval_quantiles"] = tuple(float(q) for q in d["age_interval_quantiles"])
    return CalibrationSpec(**d)


def _embedding_from_dict(d: Optional[dict]) -> Optional[EmbeddingSpec]:
    if d is None:
        return None
    d = dict(d)
    d["dim"] = int(d["dim"])
    if d.get("match_threshold") is not None:
        d["match_threshold"] = float(d["match_threshold"])
    return EmbeddingSpec(**d)


def _check_embedding(e: Optional[EmbeddingSpec], source: str) -> None:
    if e is None:
        return
    t = e.match_threshold
    if e.dim < 1 or e.output != OUTPUT_EMBEDDING or e.normalization != "l2" or (
            t is not None and not (math.isfinite(t) and 0.0 < t < 2.0)):
        raise ModelFormatError(f"{source}: bad embedding metadata (dim {e.dim}, output {e.output!r}, "
                               f"normalization {e.normalization!r}, match_threshold {t})")


def _check_align(a: Optional[AlignSpec], source: str) -> None:
    if a is None:
        return
    problems = []
    if a.method not in ALIGN_METHODS:
        problems.append(f"method {a.method!r} (want one of {ALIGN_METHODS})")
    if a.landmarks not in ALIGN_LANDMARKS:
        problems.append(f"landmarks {a.landmarks!r} (want one of {ALIGN_LANDMARKS})")
    if a.border not in ALIGN_BORDERS:
        problems.append(f"border {a.border!r} (want one of {ALIGN_BORDERS})")
    if a.interpolation not in ALIGN_INTERPOLATIONS:
        problems.append(f"interpolation {a.interpolation!r} (want one of {ALIGN_INTERPOLATIONS})")
    if len(a.template) != 5:
        problems.append(f"template has {len(a.template)} points, not 5")
    elif not all(math.isfinite(v) for point in a.template for v in point):
        problems.append("template has a non-finite point")
    if problems:
        raise ModelFormatError(f"{source}: bad align metadata: " + "; ".join(problems))


def _check_calibration(c: CalibrationSpec, source: str) -> None:
    lo, hi = c.age_interval_quantiles
    if not (0 < c.gender_temperature < math.inf and 0 < lo < hi < 1):
        raise ModelFormatError(f"{source}: bad calibration metadata (gender_temperature "
                               f"{c.gender_temperature}, age_interval_quantiles {c.age_interval_quantiles})")
