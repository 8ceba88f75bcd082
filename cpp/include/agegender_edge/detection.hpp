// Face detectors, as agegender_edge/detection/*.py: OpenCV Haar (cascade XML path), YuNet (ONNX
// path) or none (the whole image is one face chip). Each carries the ChipCalibration measured for
// it in Python (detection/haar.py, detection/yunet.py), so the chip the model sees matches its
// training crops whichever detector found the face.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace agegender_edge {

struct Detection {
    double x = 0, y = 0, width = 0, height = 0;  // pixels of the original image
    double score = 0;
    std::optional<std::array<std::array<double, 2>, 5>> landmarks;  // YuNet only
};

// chip side = scale * sqrt(w * h); chip centre = box centre + (dx * w, dy * h).
struct ChipCalibration {
    double scale = 1.0, dx = 0.0, dy = 0.0;
    struct Chip { double cx, cy, side; };
    Chip chip(const Detection& d) const;
};

// Values from agegender_edge/detection/haar.py and yunet.py (HaarDetector.calibration,
// YuNetDetector.calibration): keep them in sync.
inline constexpr ChipCalibration kHaarCalibration{1.198, 0.006, 0.065};
inline constexpr ChipCalibration kYuNetCalibration{1.094, -0.006, 0.019};
inline constexpr ChipCalibration kWholeImageCalibration{1.0, 0.0, 0.0};

class FaceDetector {
public:
    // Detection runs on a copy whose longer side is at most `max_side` (0: no limit); boxes are
    // mapped back. At most `max_faces`, highest score first; detections scoring below
    // `min_score` are dropped (as FaceDetector.min_score in detection/base.py).
    explicit FaceDetector(int max_side = 960, int max_faces = 64, double min_score = 0.0)
        : max_side_(max_side), max_faces_(max_faces), min_score_(min_score) {}
    virtual ~FaceDetector() = default;
    virtual std::vector<Detection> detect(const cv::Mat& bgr);
    virtual const ChipCalibration& calibration() const = 0;
    virtual std::string name() const = 0;  // "haar" | "yunet" | "none" (metadata crop.calibration key)
    virtual std::string describe() const = 0;

protected:
    virtual std::vector<Detection> detect_one(const cv::Mat& bgr) = 0;  // on the downscaled copy
    int max_side_, max_faces_;
    double min_score_;
};

class WholeImageDetector : public FaceDetector {
public:
    WholeImageDetector() : FaceDetector(0, 1) {}
    std::vector<Detection> detect(const cv::Mat& bgr) override { return detect_one(bgr); }
    const ChipCalibration& calibration() const override { return calib_; }
    std::string name() const override { return "none"; }
    std::string describe() const override { return "none"; }

protected:
    std::vector<Detection> detect_one(const cv::Mat& bgr) override;

private:
    ChipCalibration calib_ = kWholeImageCalibration;
};

// Not thread-safe (one CascadeClassifier): use one detector per thread.
class HaarDetector : public FaceDetector {
public:
    explicit HaarDetector(const std::string& cascade_path, int max_side = 960, int max_faces = 64,
                          double scale_factor = 1.1, int min_neighbors = 5, int min_size = 24,
                          double min_score = 0.0);
    ~HaarDetector() override;
    const ChipCalibration& calibration() const override { return calib_; }
    std::string name() const override { return "haar"; }
    std::string describe() const override;

protected:
    std::vector<Detection> detect_one(const cv::Mat& bgr) override;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::string path_;
    double scale_factor_;
    int min_neighbors_, min_size_;
    ChipCalibration calib_ = kHaarCalibration;
};

// YuNet (OpenCV Zoo, 2023mar+ output layout cls/obj/bbox/kps at strides 8/16/32) run with
// cv::dnn and decoded as cv::FaceDetectorYN does in OpenCV >= 4.8 (score 0.6, NMS 0.3, top-k 5000).
// Implemented here because OpenCV 4.6's FaceDetectorYN only knows the 2021/22 model layout.
// An image without a face scoring at least this is also searched turned by 90 and 270 degrees
// (sideways photos): the same rule and figure as agegender_edge/detection/yunet.py.
constexpr float kConfidentUpright = 0.88f;
// The lowest score of a YuNet face (every pass of the rotation search): DEFAULT_MIN_SCORE in
// agegender_edge/detection/yunet.py, chosen there on data (benchmarks/detection_threshold.py).
constexpr float kYuNetDefaultMinScore = 0.78f;

class YuNetDetector : public FaceDetector {
public:
    explicit YuNetDetector(const std::string& model_path, int max_side = 960, int max_faces = 64,
                           float score_threshold = kYuNetDefaultMinScore, float nms_threshold = 0.3f, int top_k = 5000,
                           bool rotation_search = true);
    ~YuNetDetector() override;
    const ChipCalibration& calibration() const override { return calib_; }
    std::string name() const override { return "yunet"; }
    std::string describe() const override;

protected:
    std::vector<Detection> detect_one(const cv::Mat& bgr) override;

private:
    std::vector<Detection> detect_upright(const cv::Mat& bgr);
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::string path_;
    float score_threshold_, nms_threshold_;
    int top_k_;
    bool rotation_search_;
    ChipCalibration calib_ = kYuNetCalibration;
};

// "none" | "haar:PATH" | "yunet:PATH" | "haar" / "yunet" (path from $AGEGENDER_EDGE_HAAR /
// $AGEGENDER_EDGE_YUNET or the build's default) | "auto" (YuNet when $AGEGENDER_EDGE_YUNET is set,
// else Haar). Throws ModelError for a missing/invalid detector file, std::invalid_argument for an
// unknown spec or a min_score outside [0, 1]. min_score < 0: the detector's default (YuNet
// kYuNetDefaultMinScore, Haar 0), as Predictor(min_detection_score=None) in Python.
std::unique_ptr<FaceDetector> create_detector(const std::string& spec, int max_side = 960, int max_faces = 64,
                                              double min_score = -1.0);

}  // namespace agegender_edge
