// agegender-edge-cpp: predict age group, age and gender for the faces in images; prints the same
// JSON as the Python SDK's ImageResult.to_dict() with --json.
//
// Exit status, as the Python CLI (agegender_edge/errors.py EXIT_*): 0 at least one image processed
// (per-image errors are reported on stderr and in each result's "error"); 1 no image could be
// processed, or the model / detector / backend could not be loaded; 2 bad command line.
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <opencv2/core/utils/logger.hpp>

#include "agegender_edge/agegender_edge.hpp"

using namespace agegender_edge;

namespace {

constexpr int kExitNoImage = 1, kExitUsage = 2, kExitModel = 1;

void usage(std::ostream& os) {
    os << "usage: agegender-edge-cpp [options] IMAGE...\n"
          "Predict age group, age and gender for every face in the images (C++ runtime).\n\n"
          "options:\n"
          "  -m, --model PATH        .onnx (or TensorRT .engine) model; default: $AGEGENDER_EDGE_MODEL or\n"
          "                          " << (default_model_path().empty() ? "(none configured)" : default_model_path()) << "\n"
          "  -d, --detector SPEC     auto | haar[:XML] | yunet[:ONNX] | none   (default: auto)\n"
          "      --min-score X       detections scoring below X (0..1) are not faces (default: the\n"
          "                          detector's: YuNet " << kYuNetDefaultMinScore << ", Haar 0)\n"
          "      --faces             images are face chips already (no detection), like predict_faces()\n"
          "  -b, --backend NAME      auto | opencv | tensorrt   (default: auto)\n"
          "      --batch-size N      faces per inference call (default 32)\n"
          "      --max-faces N       at most N faces per image, best scores first (default 64)\n"
          "      --max-pixels N      refuse larger images before decoding (default 50000000)\n"
          "      --detect-max-side N detect on a copy downscaled to this longer side (default 960)\n"
          "      --engine-cache DIR  TensorRT engine cache folder\n"
          "      --device N          CUDA device for TensorRT (default 0)\n"
          "      --threads N         OpenCV threads (default: OpenCV's choice)\n"
          "      --no-verify-checksum  skip the weights_sha256 check\n"
          "      --json              print a JSON array of results (keys as Python's ImageResult.to_dict())\n"
          "      --embeddings        include each face's descriptor ('embedding') in the JSON\n"
          "      --indent N          indent the JSON (default: compact)\n"
          "      --repeat N          run the whole prediction N times and print timing to stderr\n"
          "      --describe          print the model metadata and backend, then exit\n"
          "  -v, --verbose           say which backend, detector and graph rewrites are used\n"
          "      --version           print the version\n"
          "  -h, --help              this help\n\n"
          "exit status: 0 at least one image processed, 1 no image processed or the model / detector /\n"
          "backend could not be loaded, 2 usage error\n";
}

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

int to_int(const std::string& opt, const std::string& v, long long lo, long long hi) {
    try {
        std::size_t used = 0;
        const long long x = std::stoll(v, &used);
        if (used != v.size() || x < lo || x > hi) throw std::out_of_range("range");
        return static_cast<int>(x);
    } catch (const std::exception&) {
        throw UsageError(opt + " needs an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], not '" + v + "'");
    }
}

double to_score(const std::string& opt, const std::string& v) {
    try {
        std::size_t used = 0;
        const double x = std::stod(v, &used);
        if (used != v.size() || !(x >= 0.0 && x <= 1.0)) throw std::out_of_range("range");
        return x;
    } catch (const std::exception&) {
        throw UsageError(opt + " needs a number between 0 and 1, not '" + v + "'");
    }
}

void print_text(const ImageResult& r) {
    if (!r.ok()) {
        std::cout << r.source << ": ERROR " << *r.error_type << ": " << *r.error << "\n";
        return;
    }
    std::cout << r.source << ": " << r.faces.size() << " face" << (r.faces.size() == 1 ? "" : "s") << " (" << r.width
              << "x" << r.height << ")\n";
    for (std::size_t i = 0; i < r.faces.size(); ++i) {
        const FaceResult& f = r.faces[i];
        const Prediction& p = f.prediction;
        double pg = 0;
        for (const auto& [label, v] : p.age_group_probs)
            if (label == p.age_group) pg = v;
        // whole pixels, never "-0" (an edge a hair left of the image is 0), as the Python CLI prints
        auto px = [](double v) { return static_cast<long long>(std::llround(v)); };
        char line[512];
        std::snprintf(line, sizeof line,
                      "  face %zu: age group %s (p=%.2f), age %.1f (80%%: %.1f-%.1f), %s (p=%.2f), box %lld,%lld %lldx%lld\n",
                      i + 1, p.age_group.c_str(), pg, p.age, p.age_interval_80[0], p.age_interval_80[1],
                      p.gender.c_str(), p.gender_probability, px(f.box.x), px(f.box.y), px(f.box.width), px(f.box.height));
        std::cout << line;
    }
}

}  // namespace

int main(int argc, char** argv) {
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
    PredictorOptions opts;
    std::vector<std::string> images;
    bool json = false, describe = false, faces_only = false, verbose = false;
    int indent = -1, repeat = 1;
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            auto value = [&]() -> std::string {
                if (i + 1 >= argc) throw UsageError(a + " needs a value");
                return argv[++i];
            };
            if (a == "-h" || a == "--help") { usage(std::cout); return 0; }
            else if (a == "--version") { std::cout << "agegender-edge-cpp " << kVersion << "\n"; return 0; }
            else if (a == "-m" || a == "--model") opts.model = value();
            else if (a == "-d" || a == "--detector") opts.detector = value();
            else if (a == "--faces") faces_only = true;
            else if (a == "--min-score") opts.min_detection_score = to_score(a, value());
            else if (a == "-b" || a == "--backend") opts.runner.backend = value();
            else if (a == "--batch-size") opts.batch_size = to_int(a, value(), 1, 4096);
            else if (a == "--max-faces") opts.max_faces = to_int(a, value(), 1, 100000);
            else if (a == "--max-pixels") opts.max_pixels = to_int(a, value(), 1, 2000000000);
            else if (a == "--detect-max-side") opts.detect_max_side = to_int(a, value(), 0, 100000);
            else if (a == "--engine-cache") opts.runner.engine_cache_dir = value();
            else if (a == "--device") opts.runner.device = to_int(a, value(), 0, 64);
            else if (a == "--threads") opts.runner.threads = to_int(a, value(), 0, 1024);
            else if (a == "--no-verify-checksum") opts.runner.verify_checksum = false;
            else if (a == "--json") json = true;
            else if (a == "--embeddings") opts.return_embeddings = true;
            else if (a == "--indent") indent = to_int(a, value(), 0, 16);
            else if (a == "--repeat") repeat = to_int(a, value(), 1, 1000000);
            else if (a == "--describe") describe = true;
            else if (a == "-v" || a == "--verbose") verbose = true;
            else if (a == "--") { for (++i; i < argc; ++i) images.push_back(argv[i]); }
            else if (!a.empty() && a[0] == '-') throw UsageError("unknown option " + a);
            else images.push_back(a);
        }
        if (opts.runner.backend != "auto" && opts.runner.backend != "opencv" && opts.runner.backend != "tensorrt")
            throw UsageError("--backend must be auto, opencv or tensorrt");
        if (faces_only) opts.detector = "none";
        if (images.empty() && !describe) throw UsageError("no images given");
    } catch (const UsageError& e) {
        std::cerr << "agegender-edge-cpp: error: " << e.what() << "\n";
        usage(std::cerr);
        return kExitUsage;
    }

    std::unique_ptr<Predictor> predictor;
    try {
        predictor = std::make_unique<Predictor>(opts);
    } catch (const Error& e) {
        std::cerr << "agegender-edge-cpp: error: " << e.type_name() << ": " << e.what() << "\n";
        return kExitModel;
    } catch (const std::invalid_argument& e) {
        std::cerr << "agegender-edge-cpp: error: " << e.what() << "\n";
        return kExitUsage;
    } catch (const std::exception& e) {
        std::cerr << "agegender-edge-cpp: error: cannot load the model: " << e.what() << "\n";
        return kExitModel;
    }
    const ModelMetadata& meta = predictor->metadata();
    if (verbose || describe)
        std::cerr << "model " << meta.name << " (" << meta.architecture << ", input " << meta.input.height << "x"
                  << meta.input.width << " " << meta.input.colour_order << ", flip_tta " << (meta.flip_tta ? "yes" : "no")
                  << "), backend " << predictor->runner().describe() << ", detector "
                  << (faces_only ? std::string("none (--faces)") : predictor->detector().describe()) << "\n";
    if (describe) {
        std::cout << meta.source_json << "\n";
        return 0;
    }

    try {
        std::vector<ImageResult> results;
        double total_ms = 0, best_ms = 1e300;
        for (int r = 0; r < repeat; ++r) {
            const auto t0 = std::chrono::steady_clock::now();
            results = faces_only ? predictor->predict_faces(images) : predictor->predict(images);
            const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            total_ms += ms;
            best_ms = std::min(best_ms, ms);
        }
        if (repeat > 1) {
            std::size_t faces = 0;
            for (const auto& res : results) faces += res.faces.size();
            std::fprintf(stderr, "timing: %d runs of %zu images / %zu faces: mean %.2f ms, best %.2f ms per run\n",
                         repeat, images.size(), faces, total_ms / repeat, best_ms);
        }
        std::size_t ok = 0, faces = 0;
        for (const auto& res : results) {
            faces += res.faces.size();
            if (res.ok()) ++ok;
            else std::cerr << "agegender-edge-cpp: error: " << *res.error_type << ": " << *res.error << "\n";
        }
        if (json) std::cout << to_json(results, indent) << "\n";
        else
            for (const auto& res : results) print_text(res);
        std::cerr << ok << "/" << results.size() << " images processed, " << faces << (faces == 1 ? " face\n" : " faces\n");
        return ok == 0 ? kExitNoImage : 0;
    } catch (const Error& e) {
        std::cerr << "agegender-edge-cpp: error: " << e.type_name() << ": " << e.what() << "\n";
        return kExitModel;
    } catch (const std::exception& e) {
        std::cerr << "agegender-edge-cpp: internal error: " << e.what() << "\n";
        return kExitNoImage;
    }
}
