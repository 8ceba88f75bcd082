#include "agegender_edge/decode.hpp"

#include <algorithm>
#include <cmath>

#include "agegender_edge/errors.hpp"

namespace agegender_edge {

float age_quantile(const float* p, const std::vector<float>& bins, double q) {
    const std::size_t n = bins.size();
    std::vector<float> cdf(n);
    float acc = 0.0f;
    for (std::size_t i = 0; i < n; ++i) cdf[i] = acc += p[i];  // np.cumsum (float32, sequential)
    const float total = cdf[n - 1];
    for (auto& c : cdf) c /= total;                          // cdf /= cdf[:, -1:]
    // np.interp(q, cdf, bins) in float64
    if (!(q >= double(cdf[0]))) return bins[0];
    if (q > double(cdf[n - 1])) return bins[n - 1];
    const std::size_t upper = static_cast<std::size_t>(
        std::upper_bound(cdf.begin(), cdf.end(), q, [](double v, float c) { return v < double(c); }) - cdf.begin());
    if (upper == 0) return bins[0];
    const std::size_t j = upper - 1;
    if (j >= n - 1) return bins[n - 1];
    if (double(cdf[j]) == q) return bins[j];
    const double x0 = cdf[j], x1 = cdf[j + 1], y0 = bins[j], y1 = bins[j + 1];
    const double slope = (y1 - y0) / (x1 - x0);
    double r = slope * (q - x0) + y0;
    if (std::isnan(r)) {
        r = slope * (q - x1) + y1;
        if (std::isnan(r) && y0 == y1) r = y0;
    }
    return static_cast<float>(r);
}

std::size_t nearest_group(double age, const std::vector<std::string>& labels) {
    // labels.py nearest_group: int(round(age)) (half to even), ties to the younger group
    const long a = std::lrint(age);
    for (std::size_t i = 0; i + 1 < labels.size(); ++i) {
        const auto g0 = parse_group_label(labels[i]);
        const auto g1 = parse_group_label(labels[i + 1]);
        if (!g0 || !g1) throw ModelFormatError("age group label is not LO-HI: " + labels[i]);
        const int lo1 = g1->first, hi0 = g0->second;
        // Python's floor division
        const long bound = (static_cast<long>(hi0) + lo1) >= 0 ? (static_cast<long>(hi0) + lo1) / 2
                                                                 : -((-(static_cast<long>(hi0) + lo1) + 1) / 2);
        if (a <= bound) return i;
    }
    return labels.size() - 1;
}

namespace {

// decode.py calibrate_gender: p1' = sigmoid((log p1 - log p0) / T) in double (probabilities
// clipped to [1e-12, 1 - 1e-12]), p0' = 1 - p1', both rounded to float32 as numpy does.
constexpr double kLogitEps = 1e-12;

std::array<float, 2> calibrate_gender(const float* g, double temperature) {
    if (temperature == 1.0) return {g[0], g[1]};
    const double p0 = std::clamp(double(g[0]), kLogitEps, 1.0 - kLogitEps);
    const double p1 = std::clamp(double(g[1]), kLogitEps, 1.0 - kLogitEps);
    const double z = (std::log(p1) - std::log(p0)) / temperature;
    const double q1 = 1.0 / (1.0 + std::exp(-z));
    return {static_cast<float>(1.0 - q1), static_cast<float>(q1)};
}

}  // namespace

std::vector<Prediction> decode_outputs(const Outputs& out, const ModelMetadata& meta) {
    const std::size_t n = static_cast<std::size_t>(out.n);
    const std::size_t G = meta.age_groups.size(), K = meta.age_bins.size(), S = meta.gender_labels.size();
    if (out.gender.size() != n * S || out.age_group.size() != n * G || out.age_mean.size() != n ||
        out.age_std.size() != n || out.age_bins.size() != n * K)
        throw ModelFormatError("model outputs do not match the metadata (gender, age group or age bin counts)");
    std::vector<Prediction> preds(n);
    for (std::size_t i = 0; i < n; ++i) {
        Prediction& p = preds[i];
        const std::array<float, 2> gc = calibrate_gender(&out.gender[i * S], meta.calibration.gender_temperature);
        const float* g = gc.data();
        const float* a = &out.age_group[i * G];
        const std::size_t gi = static_cast<std::size_t>(std::max_element(g, g + S) - g);  // np.argmax: first max
        // the most probable group, whatever the age rule (decode.py): age_group_probs[age_group] is the
        // largest probability; the age in years keeps the metadata's age_estimate
        const std::size_t ai = static_cast<std::size_t>(std::max_element(a, a + G) - a);
        // decode.py age_and_interval: the graph's mean, or the median of the bin distribution
        const float age = meta.age_estimate == "median" ? age_quantile(&out.age_bins[i * K], meta.age_bins, 0.5)
                                                        : out.age_mean[i];
        p.age_group = meta.age_groups[ai];
        for (std::size_t k = 0; k < G; ++k) p.age_group_probs.emplace_back(meta.age_groups[k], double(a[k]));
        p.age = age;
        p.age_std = out.age_std[i];
        const auto& q = meta.calibration.age_interval_quantiles;  // (0.1, 0.9) uncalibrated
        p.age_interval_80 = {double(age_quantile(&out.age_bins[i * K], meta.age_bins, q[0])),
                             double(age_quantile(&out.age_bins[i * K], meta.age_bins, q[1]))};
        p.gender = meta.gender_labels[gi];
        p.gender_probability = g[gi];
    }
    const std::size_t D = static_cast<std::size_t>(meta.embedding_dim);
    if (D && out.embedding.size() == n * D)
        for (std::size_t i = 0; i < n; ++i) preds[i].embedding.assign(&out.embedding[i * D], &out.embedding[i * D] + D);
    return preds;
}

}  // namespace agegender_edge
