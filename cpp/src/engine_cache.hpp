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

// Python's json.dumps(s) (ensure_ascii=True) of a UTF-8 string.
std::string py_json_string(const std::string& s);

// <dir>/<stem>-<precision>-<digest[:16]>.engine
std::string engine_cache_path(const std::string& dir, const std::string& stem, const EngineCacheKey& key);

// $AGEGENDER_EDGE_ENGINE_CACHE, else $XDG_CACHE_HOME or ~/.cache, + /agegender_edge/engines
std::string default_engine_cache_dir();

// File name without folder and last extension (Path.stem).
std::string file_stem(const std::string& path);

}  // namespace agegender_edge
