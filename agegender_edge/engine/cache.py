"""Engine cache for ``Predictor(model="x.onnx", backend="tensorrt")``: build once, reuse.

The key covers everything that makes an engine invalid or different: the ONNX bytes (sha256),
the TensorRT version, the GPU (name and compute capability), precision, batch profile and DLA
core, plus this SDK's engine format. Decisions are made from the sidecar JSON, never by handing
an unknown or mismatched file to TensorRT: a mismatch rebuilds (writable cache) or raises a
clear error (read-only cache); the engine bytes are checked against the sidecar's sha256.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from ..errors import BackendUnavailableError, ModelFormatError
from .profile import BatchProfile
from .sidecar import SIDECAR_FORMAT, EngineSidecar, atomic_write, sidecar_path

log = logging.getLogger("agegender_edge")
CACHE_ENV = "AGEGENDER_EDGE_ENGINE_CACHE"


def default_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "agegender_edge" / "engines"


@dataclass(frozen=True)
class EngineCacheKey:
    onnx_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: str
    precision: str
    profile: BatchProfile
    dla_core: Optional[int] = None
    sdk_engine_format: int = SIDECAR_FORMAT

    def __post_init__(self):
        # major.minor.patch: "10.3.0.26" (C++ headers) and "10.3.0" (wheels) give one key, so the
        # C++ runtime and Python share cached engines (engine_cache.cpp does the same)
        from ..backends.tensorrt_env import normalise_tensorrt_version
        object.__setattr__(self, "tensorrt_version", normalise_tensorrt_version(self.tensorrt_version))

    def as_dict(self) -> dict:
        d = asdict(self)
        d["profile"] = self.profile.as_dict()
        return d

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class CacheDecision:
    action: str            # "load" | "build"
    path: Path
    reason: str


def bytes_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class EngineCache:
    def __init__(self, directory: Optional[Path] = None):
        self.directory = Path(directory) if directory is not None else default_cache_dir()

    @property
    def writable(self) -> bool:
        d = self.directory
        while not d.exists():
            if d.parent == d:
                return False
            d = d.parent
        return os.access(d, os.W_OK | os.X_OK)

    def path_for(self, model_stem: str, key: EngineCacheKey) -> Path:
        return self.directory / f"{model_stem}-{key.precision}-{key.digest[:16]}.engine"

    def decide(self, model_stem: str, key: EngineCacheKey) -> CacheDecision:
        """Load the cached engine if its sidecar proves it matches ``key``; else build (or raise
        BackendUnavailableError when the cache cannot be written)."""
        path = self.path_for(model_stem, key)
        reason = self._invalid_reason(path, key)
        if reason is None:
            return CacheDecision("load", path, "cache hit")
        if not self.writable:
            raise BackendUnavailableError(
                f"TensorRT engine cache {self.directory} is read-only and has no usable engine for "
                f"{model_stem} ({reason}); build one where it can be written: agegender-edge export "
                f"--onnx {model_stem}.onnx --format engine, or pass engine_cache_dir=<writable folder>")
        return CacheDecision("build", path, reason)

    def _invalid_reason(self, path: Path, key: EngineCacheKey) -> Optional[str]:
        if not path.is_file():
            return "no cached engine"
        try:
            side = EngineSidecar.read(path)
        except ModelFormatError as exc:
            return f"sidecar unusable ({exc})"
        if side.cache_key != key.digest:
            return "sidecar cache key differs"
        why = side.mismatches(key.tensorrt_version, key.compute_capability, key.gpu_name)
        if side.onnx_sha256 != key.onnx_sha256:
            why.append("ONNX changed")
        if why:
            return "; ".join(why)
        try:
            if bytes_sha256(path.read_bytes()) != side.engine_sha256:
                return "engine bytes do not match the sidecar sha256"
        except OSError as exc:
            return f"engine unreadable ({exc})"
        return None

    def store(self, path: Path, engine_bytes: bytes, sidecar: EngineSidecar) -> Path:
        """Engine first, sidecar last: a sidecar only ever describes a complete engine."""
        sidecar.engine_sha256 = bytes_sha256(engine_bytes)
        sp = sidecar_path(path)
        if sp.exists():
            sp.unlink()
        atomic_write(path, engine_bytes)
        sidecar.write(path)
        log.info("engine cache: stored %s (%.1f MB)", path, len(engine_bytes) / 1e6)
        return path
