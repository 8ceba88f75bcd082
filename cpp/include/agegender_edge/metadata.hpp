// Model metadata: everything the runtime needs to preprocess faces and decode outputs.
// Read from the ONNX metadata_props (key "agegender_edge", a JSON document) or from a TensorRT
// engine's sidecar JSON. Mirrors agegender_edge/metadata.py; nothing here is hard-coded elsewhere.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace agegender_edge {

inline constexpr const char* kMetadataKey = "agegender_edge";
// 2: optional "align" (landmark alignment) and "calibration" sections (metadata.py FORMAT_VERSION).
inline constexpr int kFormatVersion = 2;

// Output tensor names of every exported model (metadata.OUTPUT_NAMES, same order).
inline constexpr const char* kOutputGender = "gender_probs";       // [N, 2]
inline constexpr const char* kOutputAgeGroup = "age_group_probs";  // [N, len(age_groups)]
inline constexpr const char* kOutputAgeMean = "age_years";         // [N]
inline constexpr const char* kOutputAgeStd = "age_std";            // [N]
inline constexpr const char* kOutputAgeBins = "age_bin_probs";     // [N, len(age_bins)]
inline const std::array<const char*, 5> kOutputNames = {kOutputGender, kOutputAgeGroup, kOutputAgeMean,
                                                        kOutputAgeStd, kOutputAgeBins};
// Optional sixth output (metadata "embedding" section, metadata.py EmbeddingSpec): the face
// descriptor [N, D], L2-normalised. An older file without the section has none.
inline constexpr const char* kOutputEmbedding = "embedding";

struct InputSpec {
    std::string name = "input";
    int height = 96;                 // metadata "size": [height, width]
    int width = 96;
    std::string colour_order = "RGB";  // "RGB" or "BGR"
    std::string layout = "NCHW";
    std::array<float, 2> value_range = {0.0f, 255.0f};
    std::array<float, 3> mean = {0.0f, 0.0f, 0.0f};  // in colour_order, 0-255 scale
    std::array<float, 3> std = {1.0f, 1.0f, 1.0f};
    bool normalize_in_graph = true;  // true: feed raw 0-255 pixels
};

struct CropSpec {
    std::string chip = "utkface";
    int resize_to = 112;
    std::string interpolation = "area";  // "area" | "linear" | "cubic"
    // Optional (not written by the exporter yet): per-detector chip calibration
    // {"haar": {"scale": s, "dx": x, "dy": y}, ...}; overrides the built-in values of detection.hpp.
    struct Calibration { double scale = 1.0, dx = 0.0, dy = 0.0; };
    std::map<std::string, Calibration> calibration;
};

// Five-point landmark alignment (metadata.py AlignSpec; the arithmetic is align.py's, mirrored in
// preprocess.cpp): least-squares similarity from the detector's landmarks to `templ` (in units
// of the network input's width / height), one cv::warpAffine straight to the input size; when
// the warp shrinks by more than 2x the footprint is first INTER_AREA-reduced by floor(1/scale).
struct AlignSpec {
    std::string method = "similarity5";
    std::string landmarks = "yunet5";              // right eye, left eye, nose, right / left mouth corner
    std::array<std::array<double, 2>, 5> templ{};  // metadata "template"
    std::string interpolation = "linear";          // "linear" | "cubic"
    std::string border = "replicate";              // "replicate" | "constant" (zeros)
    bool antialias = true;
};

// Post-hoc calibration applied by the decoder (metadata.py CalibrationSpec; absent = identity):
// gender p1' = sigmoid(logit(p1) / gender_temperature); age_interval_80 = these quantiles.
struct CalibrationSpec {
    double gender_temperature = 1.0;
    std::array<double, 2> age_interval_quantiles = {0.1, 0.9};
    std::string fitted_on;
};

struct ModelMetadata {
    std::string name;
    std::string architecture;
    InputSpec input;
    CropSpec crop;
    std::vector<std::string> age_groups;
    std::vector<float> age_bins;
    std::vector<std::string> gender_labels = {"female", "male"};
    bool flip_tta = false;
    // The training-time group rule (metadata.py AGE_GROUP_RULES; absent = "argmax"), validated but
    // not used by decode: every runtime reports the most probable group (issue 21).
    std::string age_group_rule = "argmax";
    // The reported age: "mean" (the graph's age_years) or "median" of the age-bin distribution
    // (metadata.py AGE_ESTIMATES; absent = "mean").
    std::string age_estimate = "mean";
    std::optional<AlignSpec> align;  // none: faces are cut by the box rule only
    CalibrationSpec calibration;
    std::string precision = "fp32";
    std::string licence;
    int format_version = kFormatVersion;
    std::optional<std::string> weights_sha256;
    // the "embedding" section: 0 = the model has no descriptor output
    int embedding_dim = 0;
    std::string embedding_flip = "none";               // "mean": face and mirror descriptors averaged
    std::optional<double> embedding_match_threshold;   // cosine distance (the video tracker's gate)
    std::string source_json;  // the original JSON document (copied verbatim into engine sidecars)

    // Parse and validate; throws ModelFormatError naming `source` on any problem
    // (invalid JSON, missing keys, wrong types, format_version > kFormatVersion or < 1, ...).
    static ModelMetadata from_json(const std::string& text, const std::string& source);
};

// "25-32" -> (25, 32) (labels.py parse_group_label); nullopt when the label is not LO-HI.
std::optional<std::pair<int, int>> parse_group_label(const std::string& label);

}  // namespace agegender_edge
