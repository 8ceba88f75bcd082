#include "agegender_edge/detection.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <sys/stat.h>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "agegender_edge/errors.hpp"

#ifndef AGEGENDER_EDGE_DEFAULT_HAAR
#define AGEGENDER_EDGE_DEFAULT_HAAR ""
#endif
#ifndef AGEGENDER_EDGE_DEFAULT_YUNET
#define AGEGENDER_EDGE_DEFAULT_YUNET ""
#endif

namespace agegender_edge {

namespace {
// Python's round(): half to even (std::nearbyint in the default rounding mode).
int py_round(double v) { return static_cast<int>(std::nearbyint(v)); }

bool is_regular_file(const std::string& path) {
    struct stat st{};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
}  // namespace

// "0.6", "0.75": as Python's f"{x:g}" for the thresholds used
static std::string format_score(float v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", double(v));
    return buf;
}

ChipCalibration::Chip ChipCalibration::chip(const Detection& d) const {
    const double side = scale * std::sqrt(std::max(d.width, 1e-6) * std::max(d.height, 1e-6));
    return {d.x + d.width * (0.5 + dx), d.y + d.height * (0.5 + dy), side};
}

std::vector<Detection> FaceDetector::detect(const cv::Mat& bgr) {
    const int h = bgr.rows, w = bgr.cols;
    const double scale = max_side_ ? std::min(1.0, double(max_side_) / double(std::max(h, w))) : 1.0;
    cv::Mat small = bgr;
    if (scale < 1.0)
        cv::resize(bgr, small, cv::Size(std::max(1, py_round(w * scale)), std::max(1, py_round(h * scale))), 0, 0,
                   cv::INTER_AREA);
    std::vector<Detection> found = detect_one(small);
    found.erase(std::remove_if(found.begin(), found.end(), [&](const Detection& d) { return d.score < min_score_; }),
                found.end());
    if (scale < 1.0) {
        const double inv = 1.0 / scale;
        for (auto& d : found) {
            d.x *= inv; d.y *= inv; d.width *= inv; d.height *= inv;
            if (d.landmarks)
                for (auto& p : *d.landmarks) { p[0] *= inv; p[1] *= inv; }
        }
    }
    std::stable_sort(found.begin(), found.end(), [](const Detection& a, const Detection& b) { return a.score > b.score; });
    if (max_faces_ > 0 && found.size() > static_cast<std::size_t>(max_faces_)) found.resize(max_faces_);
    return found;
}

std::vector<Detection> WholeImageDetector::detect_one(const cv::Mat& bgr) {
    Detection d;
    d.width = bgr.cols;
    d.height = bgr.rows;
    d.score = 1.0;
    return {d};
}

// ---- Haar ------------------------------------------------------------------------------------

struct HaarDetector::Impl {
    cv::CascadeClassifier cascade;
};

HaarDetector::HaarDetector(const std::string& cascade_path, int max_side, int max_faces, double scale_factor,
                           int min_neighbors, int min_size, double min_score)
    : FaceDetector(max_side, max_faces, min_score), impl_(std::make_unique<Impl>()), path_(cascade_path),
      scale_factor_(scale_factor), min_neighbors_(min_neighbors), min_size_(min_size) {
    if (!is_regular_file(path_)) throw ModelError(path_ + ": Haar cascade file not found");
    try {
        impl_->cascade.load(path_);
    } catch (const cv::Exception& e) {
        throw ModelError(path_ + ": not a valid Haar cascade XML (" + e.err + ")");
    }
    if (impl_->cascade.empty()) throw ModelError(path_ + ": not a valid Haar cascade XML");
}

HaarDetector::~HaarDetector() = default;

std::string HaarDetector::describe() const {
    return "haar (" + path_.substr(path_.find_last_of('/') == std::string::npos ? 0 : path_.find_last_of('/') + 1) + ")";
}

std::vector<Detection> HaarDetector::detect_one(const cv::Mat& bgr) {
    cv::Mat gray;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);  // no equalizeHist, as detection/haar.py
    std::vector<cv::Rect> boxes;
    std::vector<int> levels;
    std::vector<double> weights;
    impl_->cascade.detectMultiScale(gray, boxes, levels, weights, scale_factor_, min_neighbors_, 0,
                                    cv::Size(min_size_, min_size_), cv::Size(), true);
    std::vector<Detection> out;
    for (std::size_t i = 0; i < boxes.size(); ++i) {
        Detection d;
        d.x = boxes[i].x; d.y = boxes[i].y; d.width = boxes[i].width; d.height = boxes[i].height;
        const double wt = i < weights.size() ? weights[i] : 0.0;
        d.score = 1.0 / (1.0 + std::exp(-wt));  // the level weight is unbounded: squash it into (0, 1)
        out.push_back(d);
    }
    return out;
}

// ---- YuNet -----------------------------------------------------------------------------------

struct YuNetDetector::Impl {
    cv::dnn::Net net;
};

YuNetDetector::YuNetDetector(const std::string& model_path, int max_side, int max_faces, float score_threshold,
                             float nms_threshold, int top_k, bool rotation_search)
    : FaceDetector(max_side, max_faces, score_threshold), impl_(std::make_unique<Impl>()), path_(model_path),
      score_threshold_(score_threshold), nms_threshold_(nms_threshold), top_k_(top_k),
      rotation_search_(rotation_search) {
    if (!is_regular_file(path_)) throw ModelError(path_ + ": YuNet model file not found");
    try {
        impl_->net = cv::dnn::readNetFromONNX(path_);
    } catch (const cv::Exception& e) {
        throw ModelError(path_ + ": OpenCV cannot load this YuNet model (" + e.err + ")");
    }
    if (impl_->net.empty()) throw ModelError(path_ + ": OpenCV cannot load this YuNet model");
    for (const char* name : {"cls_8", "obj_8", "bbox_8", "kps_8", "cls_32"})
        if (impl_->net.getLayerId(name) < 0)
            throw ModelError(path_ + ": not a YuNet 2023+ model (no output '" + name + "')");
    impl_->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    impl_->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
}

YuNetDetector::~YuNetDetector() = default;

std::string YuNetDetector::describe() const {
    return "yunet (" + path_.substr(path_.find_last_of('/') == std::string::npos ? 0 : path_.find_last_of('/') + 1) +
           (rotation_search_ ? ", rotation search" : "") + ", min score " + format_score(score_threshold_) + ")";
}

// A detection in a copy turned by cv::rotate -> the same face in the (w x h) image, continuous
// pixel coordinates, box axis-aligned (as _turn_back in detection/yunet.py).
static Detection turn_back(Detection d, bool counter_clockwise, int w, int h) {
    auto point = [&](std::array<double, 2>& p) {
        const double x = p[0], y = p[1];
        p = counter_clockwise ? std::array<double, 2>{w - y, x} : std::array<double, 2>{y, h - x};
    };
    const double x0 = counter_clockwise ? w - (d.y + d.height) : d.y;
    const double y0 = counter_clockwise ? d.x : h - (d.x + d.width);
    std::swap(d.width, d.height);
    d.x = x0;
    d.y = y0;
    if (d.landmarks)
        for (auto& p : *d.landmarks) point(p);
    return d;
}

// OpenCV's NMS over detections, best first, on boxes truncated to integers like the Rect2i that
// FaceDetectorYN builds (as _nms in detection/yunet.py).
static std::vector<Detection> nms(const std::vector<Detection>& found, float score_threshold, float nms_threshold,
                                  int top_k) {
    std::vector<cv::Rect> boxes;
    std::vector<float> scores;
    for (const Detection& d : found) {
        boxes.emplace_back(int(d.x), int(d.y), int(d.width), int(d.height));
        scores.push_back(static_cast<float>(d.score));
    }
    std::vector<int> keep;
    cv::dnn::NMSBoxes(boxes, scores, score_threshold, nms_threshold, keep, 1.f, top_k);
    std::vector<Detection> out;
    for (int k : keep) out.push_back(found[k]);
    return out;
}

std::vector<Detection> YuNetDetector::detect_one(const cv::Mat& bgr) {
    std::vector<Detection> found = detect_upright(bgr);
    // a face is "confident" only if it is also kept (a threshold above kConfidentUpright)
    const float confident_score = std::max(kConfidentUpright, score_threshold_);
    const bool confident = std::any_of(found.begin(), found.end(),
                                       [&](const Detection& d) { return d.score >= confident_score; });
    if (!rotation_search_ || confident) return found;
    for (const bool ccw : {true, false}) {
        cv::Mat turned;
        cv::rotate(bgr, turned, ccw ? cv::ROTATE_90_COUNTERCLOCKWISE : cv::ROTATE_90_CLOCKWISE);
        for (const Detection& d : detect_upright(turned)) found.push_back(turn_back(d, ccw, bgr.cols, bgr.rows));
    }
    if (found.size() < 2) return found;
    return nms(found, score_threshold_, nms_threshold_, 0);
}

std::vector<Detection> YuNetDetector::detect_upright(const cv::Mat& bgr) {
    constexpr int kDivisor = 32;
    const int strides[3] = {8, 16, 32};
    const int pad_w = ((bgr.cols - 1) / kDivisor + 1) * kDivisor;
    const int pad_h = ((bgr.rows - 1) / kDivisor + 1) * kDivisor;
    cv::Mat padded;
    cv::copyMakeBorder(bgr, padded, 0, pad_h - bgr.rows, 0, pad_w - bgr.cols, cv::BORDER_CONSTANT, cv::Scalar(0));
    impl_->net.setInput(cv::dnn::blobFromImage(padded));  // BGR, raw 0-255, NCHW
    static const std::vector<std::string> names = {"cls_8", "cls_16", "cls_32", "obj_8", "obj_16", "obj_32",
                                                   "bbox_8", "bbox_16", "bbox_32", "kps_8", "kps_16", "kps_32"};
    std::vector<cv::Mat> outs;
    impl_->net.forward(outs, names);

    std::vector<Detection> faces;
    for (int s = 0; s < 3; ++s) {
        const int cols = pad_w / strides[s], rows = pad_h / strides[s];
        const std::size_t anchors = static_cast<std::size_t>(rows) * cols;
        const cv::Mat &cls = outs[s], &obj = outs[3 + s], &bbox = outs[6 + s], &kps = outs[9 + s];
        if (cls.total() < anchors || obj.total() < anchors || bbox.total() < anchors * 4 || kps.total() < anchors * 10)
            throw ModelError(path_ + ": unexpected YuNet output sizes");
        const float* cls_v = cls.ptr<float>();
        const float* obj_v = obj.ptr<float>();
        const float* bbox_v = bbox.ptr<float>();
        const float* kps_v = kps.ptr<float>();
        for (int r = 0; r < rows; ++r) {
            for (int c = 0; c < cols; ++c) {
                const std::size_t i = static_cast<std::size_t>(r) * cols + c;
                const float cls_score = std::clamp(cls_v[i], 0.f, 1.f);
                const float obj_score = std::clamp(obj_v[i], 0.f, 1.f);
                const float score = std::sqrt(cls_score * obj_score);
                if (score < score_threshold_) continue;
                const float st = static_cast<float>(strides[s]);
                const float cx = (c + bbox_v[i * 4 + 0]) * st;
                const float cy = (r + bbox_v[i * 4 + 1]) * st;
                const float w = std::exp(bbox_v[i * 4 + 2]) * st;
                const float h = std::exp(bbox_v[i * 4 + 3]) * st;
                Detection d;
                // float32 like FaceDetectorYN's output matrix
                d.x = cx - w / 2.f; d.y = cy - h / 2.f; d.width = w; d.height = h; d.score = score;
                std::array<std::array<double, 2>, 5> lm{};
                for (int k = 0; k < 5; ++k) {
                    lm[k][0] = (kps_v[i * 10 + 2 * k] + c) * st;
                    lm[k][1] = (kps_v[i * 10 + 2 * k + 1] + r) * st;
                }
                d.landmarks = lm;
                faces.push_back(d);
            }
        }
    }
    if (faces.size() <= 1) return faces;
    return nms(faces, score_threshold_, nms_threshold_, top_k_);
}

// ---- factory ---------------------------------------------------------------------------------

std::unique_ptr<FaceDetector> create_detector(const std::string& spec, int max_side, int max_faces, double min_score) {
    if (!(min_score <= 1.0)) throw std::invalid_argument("the detection score threshold must be between 0 and 1");
    const auto colon = spec.find(':');
    std::string kind = spec.substr(0, colon);
    std::transform(kind.begin(), kind.end(), kind.begin(), [](unsigned char ch) { return std::tolower(ch); });
    std::string path = colon == std::string::npos ? "" : spec.substr(colon + 1);
    auto env = [](const char* name) { const char* v = std::getenv(name); return std::string(v ? v : ""); };
    if (kind == "none" || kind.empty()) return std::make_unique<WholeImageDetector>();
    if (kind == "auto") {
        if (!env("AGEGENDER_EDGE_YUNET").empty()) kind = "yunet";
        else kind = "haar";
    }
    if (kind == "haar") {
        if (path.empty()) path = env("AGEGENDER_EDGE_HAAR");
        if (path.empty()) path = AGEGENDER_EDGE_DEFAULT_HAAR;
        if (path.empty()) throw ModelError("Haar detector needs its cascade XML: pass --detector haar:PATH or set AGEGENDER_EDGE_HAAR");
        return std::make_unique<HaarDetector>(path, max_side, max_faces, 1.1, 5, 24, std::max(min_score, 0.0));
    }
    if (kind == "yunet") {
        if (path.empty()) path = env("AGEGENDER_EDGE_YUNET");
        if (path.empty()) path = AGEGENDER_EDGE_DEFAULT_YUNET;
        if (path.empty()) throw ModelError("YuNet needs its ONNX file: pass --detector yunet:PATH or set AGEGENDER_EDGE_YUNET");
        return std::make_unique<YuNetDetector>(path, max_side, max_faces,
                                               min_score < 0 ? kYuNetDefaultMinScore : static_cast<float>(min_score));
    }
    throw std::invalid_argument("unknown detector '" + spec + "'; use 'auto', 'haar[:PATH]', 'yunet[:PATH]' or 'none'");
}

}  // namespace agegender_edge
