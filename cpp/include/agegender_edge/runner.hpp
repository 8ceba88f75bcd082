// Inference backends. Every runner takes NCHW float32 batches at the metadata's input size and
// returns the five outputs of metadata.OUTPUT_NAMES, float32, batch-first (backends/base.py).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agegender_edge/metadata.hpp"

namespace agegender_edge {

struct Outputs {
    int n = 0;
    std::vector<float> gender;     // [n, 2]
    std::vector<float> age_group;  // [n, len(age_groups)]
    std::vector<float> age_mean;   // [n]
    std::vector<float> age_std;    // [n]
    std::vector<float> age_bins;   // [n, len(age_bins)]
    std::vector<float> embedding;  // [n, metadata.embedding_dim], L2-normalised; empty: no descriptor
};

class Runner {
public:
    virtual ~Runner() = default;
    virtual const ModelMetadata& metadata() const = 0;
    // Largest batch one call accepts (0: unlimited); the Predictor splits bigger batches.
    virtual int max_batch_size() const { return 0; }
    // `batch`: n * 3 * H * W floats. Throws Error on failure.
    virtual Outputs infer(const float* batch, int n) = 0;
    virtual std::string describe() const = 0;
};

struct RunnerOptions {
    std::string backend = "auto";   // "auto" | "opencv" | "tensorrt"
    bool verify_checksum = true;    // check metadata.weights_sha256 against the initializers
    int max_batch_size = 32;        // TensorRT optimisation profile max
    std::string engine_cache_dir;   // TensorRT engine cache ("" = $AGEGENDER_EDGE_ENGINE_CACHE or
                                    // ~/.cache/agegender_edge/engines)
    int device = 0;                 // CUDA device (TensorRT)
    int threads = 0;                // OpenCV threads (0 = OpenCV's default)
};

// ".engine"/".plan"/".trt" -> TensorRT (sidecar JSON next to it), else ONNX: "auto" picks TensorRT
// when compiled in and a GPU is present, else OpenCV DNN; an explicit "tensorrt" that cannot be
// met throws BackendUnavailableError instead of falling back.
std::unique_ptr<Runner> create_runner(const std::string& model_path, const RunnerOptions& options = {});

// OpenCV DNN on CPU (always built).
std::unique_ptr<Runner> create_opencv_runner(const std::string& onnx_path, const RunnerOptions& options = {});

// True when this build contains the TensorRT backend.
bool tensorrt_compiled();

}  // namespace agegender_edge
