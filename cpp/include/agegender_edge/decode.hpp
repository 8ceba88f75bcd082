// Network outputs -> per-face predictions (agegender_edge/decode.py).
#pragma once

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "agegender_edge/metadata.hpp"
#include "agegender_edge/runner.hpp"

namespace agegender_edge {

struct Prediction {
    std::string age_group;
    std::vector<std::pair<std::string, double>> age_group_probs;  // metadata order
    double age = 0, age_std = 0;
    std::array<double, 2> age_interval_80{};  // 10th..90th percentile
    std::string gender;
    double gender_probability = 0;
    std::vector<float> embedding;  // the face descriptor (L2-normalised), when the model has one and it was asked for
};

// Quantile q of a distribution over `bins` (numpy: cumsum, normalise, np.interp), float32 result.
float age_quantile(const float* bin_probs, const std::vector<float>& bins, double q);

// Index of the group nearest to `age` (labels.py nearest_group over the parsed labels).
std::size_t nearest_group(double age, const std::vector<std::string>& labels);

std::vector<Prediction> decode_outputs(const Outputs& out, const ModelMetadata& meta);

}  // namespace agegender_edge
