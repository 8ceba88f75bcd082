import json

import pytest

from agegender_edge.engine.cache import EngineCache, EngineCacheKey, bytes_sha256, default_cache_dir
from agegender_edge.engine.profile import BatchProfile
from agegender_edge.engine.sidecar import BuildSettings, EngineSidecar, sidecar_path
from agegender_edge.errors import BackendUnavailableError, ModelFormatError


def key(**kw):
    d = dict(onnx_sha256="a" * 64, tensorrt_version="10.3.0", gpu_name="Orin", compute_capability="8.7",
             precision="fp16", profile=BatchProfile(1, 16, 32))
    d.update(kw)
    return EngineCacheKey(**d)


def test_key_covers_every_field():
    base = key()
    variants = [key(onnx_sha256="b" * 64), key(tensorrt_version="10.3.1"), key(gpu_name="Orin NX"),
                key(compute_capability="8.6"), key(precision="fp32"), key(profile=BatchProfile(1, 8, 32)),
                key(dla_core=0)]
    digests = {v.digest for v in variants}
    assert base.digest not in digests and len(digests) == len(variants)
    assert key().digest == base.digest  # deterministic


def sidecar(meta, k, engine=b"engine-bytes"):
    return EngineSidecar(metadata=meta, build=BuildSettings(profile=k.profile.as_dict(), precision_path="builder-fp16"),
                         tensorrt_version=k.tensorrt_version, gpu_name=k.gpu_name,
                         compute_capability=k.compute_capability, onnx_sha256=k.onnx_sha256,
                         engine_sha256=bytes_sha256(engine), cache_key=k.digest)


def test_sidecar_round_trip(tmp_path, meta):
    k = key()
    s = sidecar(meta, k)
    s.io = {"input": {"mode": "input", "dtype": "float32", "shape": [-1, 3, 96, 96]}}
    eng = tmp_path / "m.engine"
    eng.write_bytes(b"engine-bytes")
    s.write(eng)
    back = EngineSidecar.read(eng)
    assert back.to_dict() == s.to_dict()
    assert back.metadata == meta and back.build.precision_path == "builder-fp16"
    assert back.mismatches("10.3.0", "8.7", "Orin", bytes_sha256(b"engine-bytes")) == []
    why = back.mismatches("10.4.0", "7.2", "Xavier", bytes_sha256(b"other"))
    assert len(why) == 4 and any("TensorRT 10.3.0" in w for w in why)


def test_sidecar_errors(tmp_path, meta):
    eng = tmp_path / "m.engine"
    with pytest.raises(ModelFormatError, match="no sidecar"):
        EngineSidecar.read(eng)
    sidecar_path(eng).write_text("{not json")
    with pytest.raises(ModelFormatError, match="unreadable"):
        EngineSidecar.read(eng)
    d = sidecar(meta, key()).to_dict()
    d["format_version"] = 99
    sidecar_path(eng).write_text(json.dumps(d))
    with pytest.raises(ModelFormatError, match="format 99"):
        EngineSidecar.read(eng)
    del d["tensorrt_version"]
    d["format_version"] = 1
    sidecar_path(eng).write_text(json.dumps(d))
    with pytest.raises(ModelFormatError, match="malformed"):
        EngineSidecar.read(eng)


def test_cache_decisions(tmp_path, meta):
    cache = EngineCache(tmp_path / "c")
    k = key()
    d = cache.decide("m", k)
    assert d.action == "build" and d.reason == "no cached engine" and not d.path.exists()
    cache.store(d.path, b"engine-bytes", sidecar(meta, k))
    assert cache.decide("m", k).action == "load"
    # same file name can never be reused for another key (digest in the name)
    assert cache.path_for("m", key(precision="fp32")) != d.path
    # a sidecar that lies about the key is treated as invalid
    s = json.loads(sidecar_path(d.path).read_text())
    s["tensorrt_version"] = "9.9.9"
    sidecar_path(d.path).write_text(json.dumps(s))
    assert "TensorRT 9.9.9" in cache.decide("m", k).reason
    # restore, then corrupt the engine bytes
    cache.store(d.path, b"engine-bytes", sidecar(meta, k))
    d.path.write_bytes(b"engine-bytez")
    assert cache.decide("m", k).reason == "engine bytes do not match the sidecar sha256"


def test_cache_read_only_is_a_clear_error(tmp_path, meta, monkeypatch):
    cache = EngineCache(tmp_path / "ro")
    monkeypatch.setattr(EngineCache, "writable", property(lambda self: False))
    with pytest.raises(BackendUnavailableError, match="read-only.*export --onnx m.onnx --format engine"):
        cache.decide("m", key())


def test_default_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("AGEGENDER_EDGE_ENGINE_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("AGEGENDER_EDGE_ENGINE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x" / "agegender_edge" / "engines"
