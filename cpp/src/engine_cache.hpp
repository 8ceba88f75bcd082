// TensorRT engine cache naming, shared with the Python SDK (agegender_edge/engine/cache.py).
// Internal header; built in every configuration so the key format is unit-tested without a GPU.
#pragma once

#include <string>

namespace agegender_edge {

inline constexpr int kSidecarFormat = 1;  // engine/sidecar.py SIDECAR_FORMAT

struct BatchProfile { int min = 1, opt = 32, max = 32; };

struct EngineCacheKey {
    std::string onnx_sha256, tensorrt_version, gpu_name, compute_capability, precision = "fp16";
    BatchProfile profile;
    // EngineCacheKey.digest: sha256 of json.dumps(as_dict(), sort_keys=True) (dla_core null).
    std::string canonical_json() const;
    std::string digest() const;
};

// TensorRT versions are matched on major.minor.patch, the finest level both sides report: the
// C++ headers give 4 components ("10.3.0.26"), the Python wheels usually 3 ("10.3.0"). Same rule as
// agegender_edge.backends.tensorrt_env.normalise_tensorrt_version: the leading digits of the first
// three dot-separated parts, missing parts 0 ("10.14.1.48.post1" -> "10.14.1", "10.3" -> "10.3.0").
// The engine cache key holds the normalised version, so Python and C++ share cached engines.
std::string normalise_tensorrt_version(const std::string& version);
bool tensorrt_versions_match(const std::string& a, const std::string& b);

// IRuntime::setEngineHostCodeAllowed exists from TensorRT 8.6 on (NvInferRuntime.h of 8.6.1, 10.x,
// 11.x; not in 8.5.2); the runner disallows engine host code wherever it exists, as Python does.
// The macro is what runner_tensorrt.cpp's preprocessor guard uses; the function (unit-tested) is
// the same expression, so the guard cannot drift from the tested rule.
#define AGEGENDER_EDGE_TRT_HAS_HOST_CODE_SWITCH(major, minor) ((major) > 8 || ((major) == 8 && (minor) >= 6))
constexpr bool tensorrt_has_host_code_switch(int major, int minor) {
    return AGEGENDER_EDGE_TRT_HAS_HOST_CODE_SWITCH(major, minor);
}

// Python's json.dumps(s) (ensure_ascii=True) of a UTF-8 string.
std::string py_json_string(const std::string& s);

// <dir>/<stem>-<precision>-<digest[:16]>.engine
std::string engine_cache_path(const std::string& dir, const std::string& stem, const EngineCacheKey& key);

// $AGEGENDER_EDGE_ENGINE_CACHE, else $XDG_CACHE_HOME or ~/.cache, + /agegender_edge/engines
std::string default_engine_cache_dir();

// File name without folder and last extension (Path.stem).
std::string file_stem(const std::string& path);

}  // namespace agegender_edge
