"""TensorRT version matching, shared with the C++ runtime (cpp/src/engine_cache.cpp; the same
cases are in cpp/tests/unit_tests.cpp, test_tensorrt_versions)."""
from __future__ import annotations

import pytest

from agegender_edge.backends.tensorrt_env import normalise_tensorrt_version, tensorrt_versions_match
from agegender_edge.engine.cache import EngineCacheKey
from agegender_edge.engine.profile import BatchProfile
from agegender_edge.engine.sidecar import BuildSettings, EngineSidecar

# the digest the C++ unit test expects for this key (C++ normalises "10.3.0.26" first)
SHARED_KEY_DIGEST = "889bbba4847806e4c953c2d29cdc6255737937eccacdb4858a361b916c469904"


@pytest.mark.parametrize("raw,normalised", [
    ("10.3.0.26", "10.3.0"), ("10.3.0", "10.3.0"), ("8.5.2.2", "8.5.2"), ("10.14.1.48.post1", "10.14.1"),
    ("11.4.0.106", "11.4.0"), ("10.3", "10.3.0"), ("10", "10.0.0"), ("10.03.0", "10.3.0"), ("", "0.0.0"),
])
def test_normalise(raw, normalised):
    assert normalise_tensorrt_version(raw) == normalised


def test_match_is_on_major_minor_patch():
    assert tensorrt_versions_match("10.3.0.26", "10.3.0")      # C++ build vs the wheel
    assert tensorrt_versions_match("8.5.2.2", "8.5.2")
    assert not tensorrt_versions_match("10.3.0", "10.3.1")
    assert not tensorrt_versions_match("10.3", "10.30")
    assert not tensorrt_versions_match("10.4.0", "10.3.0.26")


def test_cache_key_is_shared_with_the_cpp_runtime():
    def key(version):
        return EngineCacheKey(onnx_sha256="a" * 64, tensorrt_version=version, gpu_name="Orin",
                              compute_capability="8.7", precision="fp16", profile=BatchProfile(1, 32, 32))
    assert key("10.3.0.26").digest == key("10.3.0").digest == SHARED_KEY_DIGEST
    assert key("10.3.1").digest != SHARED_KEY_DIGEST


def test_sidecar_written_by_cpp_is_accepted_by_python(meta):
    side = EngineSidecar(metadata=meta, build=BuildSettings(), tensorrt_version="10.3.0.26", gpu_name="Orin",
                         compute_capability="8.7", onnx_sha256="a" * 64, engine_sha256="b" * 64)
    assert side.mismatches("10.3.0", "8.7", "Orin", "b" * 64) == []
    why = side.mismatches("10.4.0", "8.7")
    assert why == ["built with TensorRT 10.3.0.26, running 10.4.0"]
