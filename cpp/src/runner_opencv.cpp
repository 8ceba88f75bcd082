// CPU backend: OpenCV DNN reading the exported ONNX (after the equivalent-graph rewrite that
// OpenCV 4.6's importer needs, see onnx_model.hpp).
#include <algorithm>
#include <cmath>
#include <cstring>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include "agegender_edge/errors.hpp"
#include "agegender_edge/onnx_model.hpp"
#include "agegender_edge/runner.hpp"

namespace agegender_edge {

namespace {

class OpenCvRunner final : public Runner {
public:
    OpenCvRunner(const std::string& path, const RunnerOptions& options) : path_(path) {
        OnnxModelFile model = read_onnx_file(path);
        meta_ = metadata_from_onnx(model);
        if (options.verify_checksum) verify_weights(model, meta_);
        check_io(model, meta_);
        std::vector<std::uint8_t> graph;
        try {
            graph = rewrite_for_opencv_dnn(model.bytes, meta_.input.width, &rewrites_,
                                           meta_.embedding_dim > 0 ? &features_ : nullptr);
        } catch (const ModelError& e) {
            throw ModelError(path + ": " + e.what());
        }
        try {
            net_ = cv::dnn::readNetFromONNX(reinterpret_cast<const char*>(graph.data()), graph.size());
        } catch (const cv::Exception& e) {
            throw ModelError(path + ": OpenCV " CV_VERSION " DNN cannot load this model (" + first_line(e.err) + ")");
        }
        if (net_.empty()) throw ModelError(path + ": OpenCV DNN cannot load this model");
        net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        if (options.threads > 0) cv::setNumThreads(options.threads);
        names_.assign(kOutputNames.begin(), kOutputNames.end());
        if (!features_.empty()) names_.push_back(features_);
        for (const auto& name : names_)
            if (net_.getLayerId(name) < 0) throw ModelFormatError(path + ": OpenCV DNN finds no output '" + name + "'");
        self_test();
    }

    const ModelMetadata& metadata() const override { return meta_; }
    std::string describe() const override {
        return "opencv-dnn " CV_VERSION " [CPU, " + std::to_string(rewrites_.size()) + " graph rewrites for OpenCV]";
    }
    const std::vector<std::string>& rewrites() const { return rewrites_; }

    Outputs infer(const float* batch, int n) override {
        if (n < 1) throw std::invalid_argument("opencv runner: empty batch");
        const int dims[4] = {n, 3, meta_.input.height, meta_.input.width};
        cv::Mat blob(4, dims, CV_32F, const_cast<float*>(batch));  // no copy
        std::vector<cv::Mat> outs;
        try {
            net_.setInput(blob, meta_.input.name);
            net_.forward(outs, names_);
        } catch (const cv::Exception& e) {
            throw ModelError(path_ + ": OpenCV DNN inference failed (" + first_line(e.err) + ")");
        }
        Outputs o;
        o.n = n;
        const std::size_t G = meta_.age_groups.size(), K = meta_.age_bins.size();
        take(outs[0], std::size_t(n) * 2, o.gender, "gender_probs");
        take(outs[1], std::size_t(n) * G, o.age_group, "age_group_probs");
        take(outs[2], std::size_t(n), o.age_mean, "age_years");
        take(outs[3], std::size_t(n), o.age_std, "age_std");
        take(outs[4], std::size_t(n) * K, o.age_bins, "age_bin_probs");
        if (!features_.empty()) embed(outs[5], n, o.embedding);
        return o;
    }

private:
    static std::string first_line(const std::string& s) {
        std::string t = s.substr(0, s.find('\n'));
        return t.empty() ? s : t;
    }

    void take(const cv::Mat& m, std::size_t count, std::vector<float>& dst, const char* name) const {
        if (m.type() != CV_32F || m.total() != count || !m.isContinuous())
            throw ModelFormatError(path_ + ": output '" + name + "' has " + std::to_string(m.total()) +
                                   " values, expected " + std::to_string(count) + " (does it match the metadata?)");
        dst.assign(m.ptr<float>(), m.ptr<float>() + count);
    }

    // The descriptor from the pooled features (the graph's ReduceL2 -> Clip -> Div, cut off for
    // OpenCV 4.6): flip-TTA graphs carry 2n rows (faces, then mirrors), added; then each row
    // divided by max(||row||, 1e-12), in float like the graph.
    void embed(const cv::Mat& m, int n, std::vector<float>& dst) const {
        const std::size_t D = static_cast<std::size_t>(meta_.embedding_dim);
        const bool flip = meta_.embedding_flip == "mean";
        const std::size_t rows = std::size_t(n) * (flip ? 2 : 1);
        if (m.type() != CV_32F || m.total() != rows * D || !m.isContinuous())
            throw ModelFormatError(path_ + ": descriptor features have " + std::to_string(m.total()) + " values, expected " +
                                   std::to_string(rows * D) + " (does the embedding section match the model?)");
        const float* f = m.ptr<float>();
        dst.resize(std::size_t(n) * D);
        for (std::size_t i = 0; i < std::size_t(n); ++i) {
            float* d = &dst[i * D];
            for (std::size_t k = 0; k < D; ++k) d[k] = flip ? f[i * D + k] + f[(i + n) * D + k] : f[i * D + k];
            float ss = 0.0f;
            for (std::size_t k = 0; k < D; ++k) ss += d[k] * d[k];
            const float norm = std::max(std::sqrt(ss), 1e-12f);
            for (std::size_t k = 0; k < D; ++k) d[k] /= norm;
        }
    }

    // OpenCV DNN has broadcast the normalisation constants over the batch axis before (silently
    // wrong for some batch sizes); refuse a model whose results depend on the batch composition.
    void self_test() {
        const int h = meta_.input.height, w = meta_.input.width;
        const std::size_t per = std::size_t(3) * h * w;
        std::vector<float> batch(per * 3);
        std::uint32_t s = 12345;
        for (auto& v : batch) { s = s * 1664525u + 1013904223u; v = float((s >> 8) % 256); }
        Outputs all, first, last;
        try {
            all = infer(batch.data(), 3);
            first = infer(batch.data(), 1);
            last = infer(batch.data() + 2 * per, 1);
        } catch (const Error& e) {
            throw ModelError(std::string(e.what()) + " [self-test at load]");
        }
        float diff = 0;
        auto cmp = [&](const std::vector<float>& a, const std::vector<float>& one, std::size_t offset) {
            for (std::size_t i = 0; i < one.size(); ++i) diff = std::max(diff, std::fabs(a[offset + i] - one[i]));
        };
        cmp(all.gender, first.gender, 0);
        cmp(all.gender, last.gender, 2 * first.gender.size());
        cmp(all.age_bins, first.age_bins, 0);
        cmp(all.age_bins, last.age_bins, 2 * first.age_bins.size());
        if (!(diff <= 1e-4f))
            throw ModelError(path_ + ": OpenCV " CV_VERSION " DNN gives batch-dependent results for this model "
                             "(max difference " + std::to_string(diff) + "); refusing to run it");
    }

    std::string path_;
    ModelMetadata meta_;
    cv::dnn::Net net_;
    std::vector<std::string> rewrites_;
    std::string features_;                 // the descriptor's feature tensor ("" = no descriptor)
    std::vector<cv::String> names_;        // outputs fetched per forward()
};

}  // namespace

std::unique_ptr<Runner> create_opencv_runner(const std::string& onnx_path, const RunnerOptions& options) {
    return std::make_unique<OpenCvRunner>(onnx_path, options);
}

}  // namespace agegender_edge
