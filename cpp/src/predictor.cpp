#include "agegender_edge/predictor.hpp"

#include <cstdlib>

#include "agegender_edge/errors.hpp"
#include "agegender_edge/preprocess.hpp"

#ifndef AGEGENDER_EDGE_DEFAULT_MODEL
#define AGEGENDER_EDGE_DEFAULT_MODEL ""
#endif

namespace agegender_edge {

std::string default_model_path() {
    const char* env = std::getenv("AGEGENDER_EDGE_MODEL");
    if (env && *env) return env;
    return AGEGENDER_EDGE_DEFAULT_MODEL;
}

struct Predictor::Prepared {
    std::string source;
    int width = 0, height = 0;
    std::vector<std::pair<Detection, BoundingBox>> faces;  // detection, crop box
    std::vector<cv::Mat> inputs;                            // HxWx3 uint8 network inputs
    std::optional<std::string> error, error_type;
};

Predictor::Predictor(const PredictorOptions& options) : options_(options) {
    if (options_.batch_size < 1) throw std::invalid_argument("batch_size must be >= 1");
    std::string model = options_.model.empty() ? default_model_path() : options_.model;
    if (model.empty()) throw ModelError("no model given and no default model configured (pass --model PATH)");
    options_.model = model;
    runner_ = create_runner(model, options_.runner);
    if (options_.return_embeddings && runner_->metadata().embedding_dim == 0)
        throw ModelError(model + ": this model has no 'embedding' output (exported before the face descriptor "
                         "existed; training/add_embedding_output.py adds it)");
    detector_ = create_detector(options_.detector, options_.detect_max_side, options_.max_faces,
                                options_.min_detection_score);
}

Predictor::~Predictor() = default;

const ModelMetadata& Predictor::metadata() const { return runner_->metadata(); }

void Predictor::prepare(Prepared& p, const cv::Mat& bgr, FaceDetector& det) {
    try {
        p.height = bgr.rows;
        p.width = bgr.cols;
        ChipCalibration calib = det.calibration();
        const auto& from_meta = metadata().crop.calibration;
        if (auto it = from_meta.find(det.name()); it != from_meta.end())
            calib = {it->second.scale, it->second.dx, it->second.dy};
        for (const Detection& d : det.detect(bgr)) {
            FaceInput f = face_input(bgr, d, calib, metadata());  // aligned, or the box rule
            p.inputs.push_back(std::move(f.input));
            p.faces.emplace_back(d, f.crop);
        }
    } catch (const Error& e) {
        p.error = e.what();
        p.error_type = e.type_name();
    } catch (const cv::Exception& e) {
        p.error = p.source + ": cannot process image (cv::Exception: " + e.err + ")";
        p.error_type = "InvalidImageError";
    } catch (const std::exception& e) {  // one bad image must not sink the batch
        p.error = p.source + ": cannot process image (" + e.what() + ")";
        p.error_type = "InvalidImageError";
    }
    if (p.error) { p.faces.clear(); p.inputs.clear(); }
}

std::vector<ImageResult> Predictor::run(std::vector<Prepared>& preps) {
    const ModelMetadata& meta = metadata();
    std::vector<const cv::Mat*> inputs;
    for (const auto& p : preps)
        for (const auto& m : p.inputs) inputs.push_back(&m);
    std::vector<Prediction> decoded;
    int cap = options_.batch_size;
    if (runner_->max_batch_size() > 0) cap = std::min(cap, runner_->max_batch_size());
    const std::size_t per = std::size_t(3) * meta.input.height * meta.input.width;
    std::vector<float> batch;
    for (std::size_t start = 0; start < inputs.size(); start += cap) {
        const int n = static_cast<int>(std::min<std::size_t>(cap, inputs.size() - start));
        batch.resize(per * n);
        for (int i = 0; i < n; ++i) write_chw(*inputs[start + i], meta, batch.data() + per * i);
        ++calls_;
        auto preds = decode_outputs(runner_->infer(batch.data(), n), meta);
        if (!options_.return_embeddings)
            for (auto& p : preds) p.embedding.clear();   // off in results unless asked (predictor.py)
        decoded.insert(decoded.end(), preds.begin(), preds.end());
    }
    std::vector<ImageResult> results;
    std::size_t k = 0;
    for (auto& p : preps) {
        ImageResult r;
        r.source = p.source;
        r.width = p.width;
        r.height = p.height;
        r.error = p.error;
        r.error_type = p.error_type;
        for (const auto& [det, crop] : p.faces) {
            FaceResult f;
            f.box = {det.x, det.y, det.width, det.height};
            f.crop_box = crop;
            f.detection_score = det.score;
            f.landmarks = det.landmarks;
            f.prediction = decoded.at(k++);
            r.faces.push_back(std::move(f));
        }
        results.push_back(std::move(r));
    }
    return results;
}

std::vector<ImageResult> Predictor::predict_images(const std::vector<cv::Mat>& images,
                                                   const std::vector<std::string>& sources, bool faces_only) {
    std::vector<Prepared> preps(images.size());
    FaceDetector& det = faces_only ? static_cast<FaceDetector&>(whole_) : *detector_;
    for (std::size_t i = 0; i < images.size(); ++i) {
        preps[i].source = i < sources.size() ? sources[i] : "<image " + std::to_string(i) + ">";
        try {
            const cv::Mat bgr = normalise_image(images[i], "BGR", preps[i].source);
            prepare(preps[i], bgr, det);
        } catch (const Error& e) {
            preps[i].error = e.what();
            preps[i].error_type = e.type_name();
        }
    }
    return run(preps);
}

std::vector<ImageResult> Predictor::predict_with(const std::vector<std::string>& paths, FaceDetector& det) {
    std::vector<Prepared> preps(paths.size());
    for (std::size_t i = 0; i < paths.size(); ++i) {
        preps[i].source = paths[i];
        try {
            prepare(preps[i], load_image(paths[i], options_.max_pixels), det);
        } catch (const Error& e) {
            preps[i].error = e.what();
            preps[i].error_type = e.type_name();
        } catch (const cv::Exception& e) {
            preps[i].error = paths[i] + ": cannot process image (cv::Exception: " + e.err + ")";
            preps[i].error_type = "InvalidImageError";
        }
    }
    return run(preps);
}

std::vector<ImageResult> Predictor::predict(const std::vector<std::string>& paths) {
    return predict_with(paths, *detector_);
}

std::vector<ImageResult> Predictor::predict_faces(const std::vector<std::string>& paths) {
    return predict_with(paths, whole_);
}

}  // namespace agegender_edge
