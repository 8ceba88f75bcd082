"""``<engine>.json``: everything needed to trust and use an engine without opening it.

Holds the model metadata (the runtime decodes outputs from it, as with ONNX), the build settings,
the TensorRT version, the GPU name and compute capability it was built on, and the sha256 of both
the source ONNX and the engine bytes. An engine is only loaded when its sidecar matches the
engine file and the current TensorRT / GPU (engines are not portable across either).
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..errors import ModelFormatError
from ..metadata import ModelMetadata

SIDECAR_FORMAT = 1


def sidecar_path(engine_path: Path) -> Path:
    return Path(str(engine_path) + ".json")


@dataclass
class BuildSettings:
    precision: str = "fp16"                  # "fp32" | "fp16" | "int8"
    precision_path: str = ""                 # how it was reached (builder.PRECISION_PATHS), filled by the builder
    profile: dict[str, int] = field(default_factory=lambda: {"min": 1, "opt": 16, "max": 32})
    workspace_mib: int = 1024
    timing_cache: Optional[str] = None
    dla_core: Optional[int] = None
    gpu_fallback: bool = True                # DLA: unsupported layers run on the GPU
    builder_optimization_level: Optional[int] = None
    fp32_layers: list[str] = field(default_factory=list)   # layers pinned to FP32 (weak typing)
    recipe: Optional[str] = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BuildSettings":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class EngineSidecar:
    metadata: ModelMetadata
    build: BuildSettings
    tensorrt_version: str
    gpu_name: str
    compute_capability: str                  # "8.7"
    onnx_sha256: str
    engine_sha256: str
    cache_key: Optional[str] = None
    onnx_file: str = ""
    created_utc: str = ""
    io: dict[str, Any] = field(default_factory=dict)   # tensor name -> {"dtype", "shape", "mode"}
    format_version: int = SIDECAR_FORMAT

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["metadata"] = self.metadata.to_dict()
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "<sidecar>") -> "EngineSidecar":
        try:
            version = int(d.get("format_version", -1))
            if version > SIDECAR_FORMAT or version < 1:
                raise ModelFormatError(f"{source}: engine sidecar format {version} not supported by this SDK")
            return cls(
                metadata=ModelMetadata.from_dict(d["metadata"], source),
                build=BuildSettings.from_dict(d["build"]),
                tensorrt_version=str(d["tensorrt_version"]), gpu_name=str(d["gpu_name"]),
                compute_capability=str(d["compute_capability"]), onnx_sha256=str(d["onnx_sha256"]),
                engine_sha256=str(d["engine_sha256"]), cache_key=d.get("cache_key"),
                onnx_file=d.get("onnx_file", ""), created_utc=d.get("created_utc", ""),
                io=dict(d.get("io", {})), format_version=version,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFormatError(f"{source}: malformed engine sidecar ({exc!r})") from exc

    @classmethod
    def read(cls, engine_path: Path) -> "EngineSidecar":
        p = sidecar_path(engine_path)
        if not p.is_file():
            raise ModelFormatError(
                f"{engine_path}: no sidecar {p.name} next to the engine; engines are only loaded with the "
                f"sidecar written by 'agegender-edge export --format engine' (it carries the model metadata)")
        try:
            d = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelFormatError(f"{p}: unreadable engine sidecar ({exc})") from exc
        if not isinstance(d, dict):
            raise ModelFormatError(f"{p}: engine sidecar is not a JSON object")
        return cls.from_dict(d, str(p))

    def write(self, engine_path: Path) -> Path:
        p = sidecar_path(engine_path)
        atomic_write(p, self.to_json().encode())
        return p

    def mismatches(self, tensorrt_version: str, compute_capability: str, gpu_name: Optional[str] = None,
                   engine_sha256: Optional[str] = None) -> list[str]:
        """Reasons this engine cannot be used here (empty: usable)."""
        from ..backends.tensorrt_env import tensorrt_versions_match
        why = []
        if not tensorrt_versions_match(self.tensorrt_version, tensorrt_version):   # "10.3.0.26" == "10.3.0"
            why.append(f"built with TensorRT {self.tensorrt_version}, running {tensorrt_version}")
        if self.compute_capability != compute_capability:
            why.append(f"built for compute capability {self.compute_capability}, this GPU is {compute_capability}")
        if gpu_name is not None and self.gpu_name != gpu_name:
            why.append(f"built on '{self.gpu_name}', this GPU is '{gpu_name}'")
        if engine_sha256 is not None and self.engine_sha256 != engine_sha256:
            why.append("engine bytes do not match the sha256 in the sidecar (file replaced or corrupted)")
        return why


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename (readers never see half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
