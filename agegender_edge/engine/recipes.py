"""Declarative deployment recipes (``agegender_edge/engine/data/recipes/*.toml``, package data: a
wheel carries them).

A recipe names a target (V100 server, Jetson Xavier / Orin, TensorRT 11 server), the TensorRT
range it is for, the precision path, the batch profile, the workspace, an optional DLA core, and
DeepStream settings. ``agegender-edge export --recipe NAME`` builds from it, ``--print-trtexec``
prints the equivalent trtexec command, and engine/generate.py renders the committed
``export/generated/<recipe>/`` files from recipe + model metadata.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .profile import BatchProfile

# How the reduced precision is reached (recorded in every sidecar):
PRECISION_PATHS = {
    "fp32": "FP32 ONNX, FP32 engine",
    "builder-fp16": "FP32 ONNX + BuilderFlag.FP16 (TensorRT 8.5-10.x; weak typing, post-processing pinned to FP32)",
    "strongly-typed-fp16": "mixed FP16 ONNX (engine/fp16.py) built strongly typed (TensorRT 9.1+, the only FP16 path in 11.x)",
    "int8-calibrated": "FP32 ONNX + BuilderFlag.INT8 with an entropy calibrator on training faces (TensorRT 8.5-10.x)",
    "int8-qdq": "explicit Q/DQ INT8 ONNX (engine/int8.py, target tensorrt) built strongly typed (TensorRT 10+/11)",
}
PRECISION_OF_PATH = {"fp32": "fp32", "builder-fp16": "fp16", "strongly-typed-fp16": "fp16",
                     "int8-calibrated": "int8", "int8-qdq": "int8"}
RECIPE_DIR = Path(__file__).resolve().parent / "data" / "recipes"
_VERSION_RANGE = re.compile(r"^\s*(>=|<|<=|==|>)\s*(\d+(?:\.\d+){0,2})\s*$")


def _version_tuple(v: str) -> tuple[int, ...]:
    parts = [int(p) for p in re.findall(r"\d+", v)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def version_in_range(version: str, spec: str) -> bool:
    """``spec`` like ">=8.5,<10.5" (comma = and)."""
    v = _version_tuple(version)
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        m = _VERSION_RANGE.match(clause)
        if not m:
            raise ValueError(f"bad version clause {clause!r} in {spec!r}")
        op, ref = m.group(1), _version_tuple(m.group(2))
        ok = {">=": v >= ref, ">": v > ref, "<": v < ref, "<=": v <= ref, "==": v == ref}[op]
        if not ok:
            return False
    return True


@dataclass(frozen=True)
class DeepStreamSettings:
    enabled: bool = True
    batch_size: int = 16
    interval: int = 0
    input_object_min_width: int = 32
    input_object_min_height: int = 32
    operate_on_gie_id: int = 1
    operate_on_class_ids: str = "0"
    gie_unique_id: int = 2


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    target: str                          # "server" | "jetson"
    tensorrt: str                        # version range, e.g. ">=8.6,<10.5"
    compute_capability: tuple[str, ...]
    opset: int
    precision_path: str
    profile: BatchProfile
    workspace_mib: int
    dla_core: Optional[int] = None
    gpu_fallback: bool = True
    builder_optimization_level: Optional[int] = None
    timing_cache: str = "agegender_edge.timing.cache"
    deepstream: DeepStreamSettings = field(default_factory=DeepStreamSettings)
    source: str = ""

    @property
    def precision(self) -> str:
        return PRECISION_OF_PATH[self.precision_path]

    @property
    def onnx_variant(self) -> str:
        """Which ONNX file the recipe builds from: "fp32", "fp16" or "int8-tensorrt"."""
        return {"strongly-typed-fp16": "fp16", "int8-qdq": "int8-tensorrt"}.get(self.precision_path, "fp32")

    def supports(self, tensorrt_version: str) -> bool:
        return version_in_range(tensorrt_version, self.tensorrt)


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib  # Python 3.11+
    except ModuleNotFoundError:  # pragma: no cover - 3.9/3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            from ..errors import MissingDependencyError
            raise MissingDependencyError("tomli", "train", "reading deployment recipes on Python < 3.11")
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def parse_recipe(d: dict[str, Any], source: str = "<recipe>") -> Recipe:
    def need(section: str, key: str):
        try:
            return d[section][key]
        except KeyError:
            raise ValueError(f"{source}: recipe lacks [{section}] {key}") from None

    unknown = set(d) - {"recipe", "onnx", "profile", "build", "deepstream"}
    if unknown:
        raise ValueError(f"{source}: unknown recipe section(s) {sorted(unknown)}")
    path = need("onnx", "precision_path")
    if path not in PRECISION_PATHS:
        raise ValueError(f"{source}: precision_path {path!r} is not one of {sorted(PRECISION_PATHS)}")
    opset = int(need("onnx", "opset"))
    if not 17 <= opset <= 21:
        raise ValueError(f"{source}: opset {opset} outside the exporter's range 17-21")
    spec = str(need("recipe", "tensorrt"))
    version_in_range("10.0", spec)  # validates the syntax
    p = d.get("profile", {})
    profile = BatchProfile(int(p.get("min", 1)), int(p.get("opt", 16)), int(p.get("max", 32)))
    b = d.get("build", {})
    dla = b.get("dla_core")
    if dla is not None:
        dla = int(dla)
        if dla < 0:
            raise ValueError(f"{source}: dla_core must be >= 0")
        if profile.min != profile.max:
            raise ValueError(f"{source}: DLA needs a static batch (profile min == opt == max), got {profile.as_dict()}")
        if PRECISION_OF_PATH[path] == "fp32":
            raise ValueError(f"{source}: DLA runs FP16 or INT8 only")
    ws = int(b.get("workspace_mib", 1024))
    if ws < 16:
        raise ValueError(f"{source}: workspace_mib {ws} is too small")
    ds = d.get("deepstream", {})
    known_ds = set(DeepStreamSettings.__dataclass_fields__)
    if set(ds) - known_ds:
        raise ValueError(f"{source}: unknown [deepstream] keys {sorted(set(ds) - known_ds)}")
    return Recipe(
        name=str(need("recipe", "name")), description=str(d["recipe"].get("description", "")),
        target=str(d["recipe"].get("target", "server")), tensorrt=spec,
        compute_capability=tuple(str(c) for c in d["recipe"].get("compute_capability", ())),
        opset=opset, precision_path=path, profile=profile, workspace_mib=ws, dla_core=dla,
        gpu_fallback=bool(b.get("gpu_fallback", True)),
        builder_optimization_level=b.get("builder_optimization_level"),
        timing_cache=str(b.get("timing_cache", "agegender_edge.timing.cache")),
        deepstream=DeepStreamSettings(**ds), source=source,
    )


def load_recipe(name_or_path: str | Path, directory: Path = RECIPE_DIR) -> Recipe:
    p = Path(name_or_path)
    if not p.suffix:
        p = Path(directory) / f"{name_or_path}.toml"
    if not p.is_file():
        avail = ", ".join(r.name for r in list_recipes(directory)) if Path(directory).is_dir() else "none"
        raise FileNotFoundError(f"recipe {name_or_path!r} not found (available: {avail})")
    recipe = parse_recipe(_load_toml(p), str(p))
    if p.stem != recipe.name:
        raise ValueError(f"{p}: recipe name {recipe.name!r} must match its file name")
    return recipe


def list_recipes(directory: Path = RECIPE_DIR) -> list[Recipe]:
    return [load_recipe(p) for p in sorted(Path(directory).glob("*.toml"))]
