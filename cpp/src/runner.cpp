#include <algorithm>
#include <cctype>

#include "agegender_edge/errors.hpp"
#include "agegender_edge/runner.hpp"

namespace agegender_edge {

#ifdef AGEGENDER_EDGE_WITH_TENSORRT
// tensorrt_runner.cpp
std::unique_ptr<Runner> create_tensorrt_runner(const std::string& model_path, const RunnerOptions& options);
bool tensorrt_device_available(int device, std::string* why);
bool tensorrt_compiled() { return true; }
#else
bool tensorrt_compiled() { return false; }
#endif

namespace {
bool is_engine_path(std::string path) {
    std::transform(path.begin(), path.end(), path.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const char* suffix : {".engine", ".plan", ".trt"}) {
        const std::string s(suffix);
        if (path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0) return true;
    }
    return false;
}
}  // namespace

std::unique_ptr<Runner> create_runner(const std::string& model_path, const RunnerOptions& options) {
    const std::string& backend = options.backend;
    if (backend != "auto" && backend != "opencv" && backend != "tensorrt")
        throw std::invalid_argument("backend must be auto, opencv or tensorrt, not '" + backend + "'");
    const bool engine = is_engine_path(model_path);
    if (engine && backend == "opencv")
        throw ModelError(model_path + ": a TensorRT engine cannot run on OpenCV DNN; pass the .onnx file");
#ifdef AGEGENDER_EDGE_WITH_TENSORRT
    if (engine || backend != "opencv") {
        std::string why;
        if (tensorrt_device_available(options.device, &why)) return create_tensorrt_runner(model_path, options);
        if (engine || backend == "tensorrt")
            throw BackendUnavailableError("TensorRT backend requested for " + model_path + " but " + why);
        // auto: fall through to the CPU backend (the app says which backend runs)
    }
#else
    if (engine || backend == "tensorrt")
        throw BackendUnavailableError("TensorRT backend requested for " + model_path +
                                      " but this build has no TensorRT support (configure with TensorRT found; "
                                      "see docs/CPP.md)");
#endif
    return create_opencv_runner(model_path, options);
}

}  // namespace agegender_edge
