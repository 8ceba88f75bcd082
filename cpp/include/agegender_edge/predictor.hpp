// Predictor: images in, faces with age group, age and gender out (agegender_edge/predictor.py).
// decode -> detect -> cut chips -> all faces of all images through the network in batches of
// batch_size -> decode outputs -> per-image results. A bad image yields an ImageResult with
// `error` set; the other images are unaffected. Not thread-safe: use one Predictor per thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agegender_edge/detection.hpp"
#include "agegender_edge/image_io.hpp"
#include "agegender_edge/results.hpp"
#include "agegender_edge/runner.hpp"

namespace agegender_edge {

struct PredictorOptions {
    std::string model;                 // .onnx or .engine; "" = default_model_path()
    RunnerOptions runner;
    std::string detector = "auto";     // see create_detector()
    int batch_size = 32;
    std::int64_t max_pixels = kDefaultMaxPixels;
    int max_faces = 64;
    int detect_max_side = 960;
    double min_detection_score = -1.0;  // < 0: the detector's default (Predictor(min_detection_score=None))
    bool return_embeddings = false;     // fill Prediction::embedding (Predictor(return_embeddings=True))
};

// $AGEGENDER_EDGE_MODEL, else the path the build was configured with (AGEGENDER_EDGE_MODEL cache
// variable: the package's weights/dlib_resnet_aligned.onnx).
std::string default_model_path();

class Predictor {
public:
    explicit Predictor(const PredictorOptions& options);
    ~Predictor();
    Predictor(const Predictor&) = delete;
    Predictor& operator=(const Predictor&) = delete;

    // Every face the detector finds in each image (same order as `paths`).
    std::vector<ImageResult> predict(const std::vector<std::string>& paths);
    // Images already cropped like the training chips: no detection, each image is one face.
    std::vector<ImageResult> predict_faces(const std::vector<std::string>& paths);
    // Already-decoded BGR uint8 images (`sources` names them in results and errors).
    std::vector<ImageResult> predict_images(const std::vector<cv::Mat>& bgr_images,
                                            const std::vector<std::string>& sources, bool faces_only = false);

    const ModelMetadata& metadata() const;
    const Runner& runner() const { return *runner_; }
    const FaceDetector& detector() const { return *detector_; }
    int inference_calls() const { return calls_; }

private:
    struct Prepared;
    std::vector<ImageResult> run(std::vector<Prepared>& preps);
    // load + detect + crop every path with `det` (per-image errors recorded), then run()
    std::vector<ImageResult> predict_with(const std::vector<std::string>& paths, FaceDetector& det);
    void prepare(Prepared& p, const cv::Mat& bgr, FaceDetector& det);
    PredictorOptions options_;
    std::unique_ptr<Runner> runner_;
    std::unique_ptr<FaceDetector> detector_;
    WholeImageDetector whole_;
    int calls_ = 0;
};

}  // namespace agegender_edge
