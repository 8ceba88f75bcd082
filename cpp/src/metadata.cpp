#include "agegender_edge/metadata.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "agegender_edge/errors.hpp"

namespace agegender_edge {

using nlohmann::json;

std::optional<std::pair<int, int>> parse_group_label(const std::string& label) {
    const auto dash = label.find('-');
    if (dash == std::string::npos || dash == 0 || dash + 1 >= label.size()) return std::nullopt;
    try {
        std::size_t a = 0, b = 0;
        const int lo = std::stoi(label.substr(0, dash), &a);
        const int hi = std::stoi(label.substr(dash + 1), &b);
        if (a != dash || b != label.size() - dash - 1) return std::nullopt;
        return std::make_pair(lo, hi);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

namespace {

int parse_version(const json& d, const std::string& source) {
    if (!d.contains("format_version")) return -1;
    const json& v = d["format_version"];
    if (v.is_number_integer()) return v.get<int>();
    if (v.is_number_float()) return static_cast<int>(v.get<double>());
    if (v.is_string()) {
        try {
            std::size_t used = 0;
            const int out = std::stoi(v.get<std::string>(), &used);
            if (used == v.get<std::string>().size()) return out;
        } catch (const std::exception&) {
        }
    }
    throw ModelFormatError(source + ": metadata format_version is not an integer");
}

template <std::size_t N>
std::array<float, N> float_array(const json& j, const char* key) {
    if (!j.is_array() || j.size() != N)
        throw std::invalid_argument(std::string("input.") + key + " must be a list of " + std::to_string(N) + " numbers");
    std::array<float, N> out{};
    for (std::size_t i = 0; i < N; ++i) out[i] = j.at(i).get<float>();
    return out;
}

}  // namespace

ModelMetadata ModelMetadata::from_json(const std::string& text, const std::string& source) {
    json d;
    try {
        d = json::parse(text);
    } catch (const json::parse_error& e) {
        throw ModelFormatError(source + ": metadata is not valid JSON (" + e.what() + ")");
    }
    if (!d.is_object()) throw ModelFormatError(source + ": metadata is not a JSON object");
    const int version = parse_version(d, source);
    if (version > kFormatVersion)
        throw ModelFormatError(source + ": model metadata format " + std::to_string(version) +
                               " is newer than this runtime supports (" + std::to_string(kFormatVersion) +
                               "); upgrade agegender-edge");
    if (version < 1) throw ModelFormatError(source + ": metadata has no valid format_version");

    ModelMetadata m;
    m.source_json = text;
    m.format_version = version;
    try {
        m.name = d.at("name").get<std::string>();
        m.architecture = d.at("architecture").get<std::string>();
        const json& in = d.at("input");
        if (!in.is_object()) throw std::invalid_argument("input is not an object");
        InputSpec& s = m.input;
        if (in.contains("name")) s.name = in["name"].get<std::string>();
        if (in.contains("size")) {
            const json& size = in["size"];
            if (!size.is_array() || size.size() != 2) throw std::invalid_argument("input.size must be [height, width]");
            s.height = size[0].get<int>();
            s.width = size[1].get<int>();
        }
        if (in.contains("colour_order")) s.colour_order = in["colour_order"].get<std::string>();
        if (in.contains("layout")) s.layout = in["layout"].get<std::string>();
        if (in.contains("value_range")) s.value_range = float_array<2>(in["value_range"], "value_range");
        if (in.contains("mean")) s.mean = float_array<3>(in["mean"], "mean");
        if (in.contains("std")) s.std = float_array<3>(in["std"], "std");
        if (in.contains("normalize_in_graph")) s.normalize_in_graph = in["normalize_in_graph"].get<bool>();
        if (d.contains("crop")) {
            const json& c = d["crop"];
            if (!c.is_object()) throw std::invalid_argument("crop is not an object");
            if (c.contains("chip")) m.crop.chip = c["chip"].get<std::string>();
            if (c.contains("resize_to")) m.crop.resize_to = c["resize_to"].get<int>();
            if (c.contains("interpolation")) m.crop.interpolation = c["interpolation"].get<std::string>();
            if (c.contains("calibration")) {
                const json& cal = c["calibration"];
                if (!cal.is_object()) throw std::invalid_argument("crop.calibration is not an object");
                for (const auto& [det, v] : cal.items()) {
                    CropSpec::Calibration k;
                    k.scale = v.at("scale").get<double>();
                    k.dx = v.value("dx", 0.0);
                    k.dy = v.value("dy", 0.0);
                    if (!(k.scale > 0.0 && k.scale < 100.0)) throw std::invalid_argument("crop.calibration scale out of range");
                    m.crop.calibration[det] = k;
                }
            }
        }
        m.age_groups = d.at("age_groups").get<std::vector<std::string>>();
        for (const auto& b : d.at("age_bins")) m.age_bins.push_back(b.get<float>());
        m.gender_labels = d.at("gender_labels").get<std::vector<std::string>>();
        if (d.contains("flip_tta")) m.flip_tta = d["flip_tta"].get<bool>();
        if (d.contains("age_group_rule")) m.age_group_rule = d["age_group_rule"].get<std::string>();
        if (d.contains("age_estimate")) m.age_estimate = d["age_estimate"].get<std::string>();
        if (d.contains("align") && !d["align"].is_null()) {
            const json& a = d["align"];
            if (!a.is_object()) throw std::invalid_argument("align is not an object");
            AlignSpec al;
            if (a.contains("method")) al.method = a["method"].get<std::string>();
            if (a.contains("landmarks")) al.landmarks = a["landmarks"].get<std::string>();
            if (a.contains("interpolation")) al.interpolation = a["interpolation"].get<std::string>();
            if (a.contains("border")) al.border = a["border"].get<std::string>();
            if (a.contains("antialias")) al.antialias = a["antialias"].get<bool>();
            const json& t = a.at("template");
            if (!t.is_array() || t.size() != 5) throw std::invalid_argument("align.template must be 5 [x, y] points");
            for (std::size_t i = 0; i < 5; ++i) {
                if (!t[i].is_array() || t[i].size() != 2) throw std::invalid_argument("align.template must be 5 [x, y] points");
                al.templ[i] = {t[i][0].get<double>(), t[i][1].get<double>()};
            }
            m.align = al;
        }
        if (d.contains("calibration") && !d["calibration"].is_null()) {
            const json& c = d["calibration"];
            if (!c.is_object()) throw std::invalid_argument("calibration is not an object");
            if (c.contains("gender_temperature")) m.calibration.gender_temperature = c["gender_temperature"].get<double>();
            if (c.contains("age_interval_quantiles")) {
                const json& q = c["age_interval_quantiles"];
                if (!q.is_array() || q.size() != 2) throw std::invalid_argument("calibration.age_interval_quantiles must be [lo, hi]");
                m.calibration.age_interval_quantiles = {q[0].get<double>(), q[1].get<double>()};
            }
            if (c.contains("fitted_on")) m.calibration.fitted_on = c["fitted_on"].get<std::string>();
        }
        if (d.contains("precision")) m.precision = d["precision"].get<std::string>();
        if (d.contains("licence")) m.licence = d["licence"].get<std::string>();
        if (d.contains("weights_sha256") && !d["weights_sha256"].is_null())
            m.weights_sha256 = d["weights_sha256"].get<std::string>();
        if (d.contains("embedding") && !d["embedding"].is_null()) {   // optional: metadata.py EmbeddingSpec
            const json& e = d["embedding"];
            if (!e.is_object()) throw std::invalid_argument("embedding is not an object");
            m.embedding_dim = e.at("dim").get<int>();
            if (e.contains("flip")) m.embedding_flip = e["flip"].get<std::string>();
            if (e.contains("match_threshold") && !e["match_threshold"].is_null())
                m.embedding_match_threshold = e["match_threshold"].get<double>();
            const std::string output = e.contains("output") ? e["output"].get<std::string>() : kOutputEmbedding;
            const std::string norm = e.contains("normalization") ? e["normalization"].get<std::string>() : "l2";
            if (m.embedding_dim < 1 || output != kOutputEmbedding || norm != "l2")
                throw std::invalid_argument("bad embedding section (dim >= 1, output 'embedding', normalization 'l2')");
        }
    } catch (const json::exception& e) {
        throw ModelFormatError(source + ": malformed agegender_edge metadata (" + e.what() + ")");
    } catch (const std::invalid_argument& e) {
        throw ModelFormatError(source + ": malformed agegender_edge metadata (" + e.what() + ")");
    }
    // What Python would only find out later (a KeyError in preprocessing, an IndexError in
    // decoding) is checked here, so a bad model is refused when it is loaded.
    auto bad = [&](const std::string& why) { throw ModelFormatError(source + ": unusable agegender_edge metadata: " + why); };
    const InputSpec& s = m.input;
    if (s.colour_order != "RGB" && s.colour_order != "BGR") bad("input.colour_order must be 'RGB' or 'BGR'");
    if (s.layout != "NCHW") bad("input.layout '" + s.layout + "' is not supported (NCHW only)");
    if (s.height < 1 || s.width < 1 || s.height > 4096 || s.width > 4096) bad("input.size out of range");
    // resize_to below the input size is allowed: the chip then sits in a zero border (a ready chip
    // framed like another crop convention, e.g. dlib_resnet's 140 px chip in a 150 px input)
    if (m.crop.resize_to < 1 || m.crop.resize_to > 8192)
        bad("crop.resize_to must be between 1 and 8192");
    if (m.crop.interpolation != "area" && m.crop.interpolation != "linear" && m.crop.interpolation != "cubic")
        bad("crop.interpolation must be area, linear or cubic");
    if (!s.normalize_in_graph)
        for (float v : s.std)
            if (!(std::fabs(v) > 0.0f)) bad("input.std must be non-zero");
    if (m.age_groups.empty()) bad("age_groups is empty");
    if (m.age_group_rule != "argmax" && m.age_group_rule != "expected_age")
        throw ModelFormatError(source + ": unknown age_group_rule '" + m.age_group_rule + "' (want argmax or expected_age)");
    if (m.age_estimate != "mean" && m.age_estimate != "median")
        throw ModelFormatError(source + ": unknown age_estimate '" + m.age_estimate + "' (want mean or median)");
    if (m.age_group_rule == "expected_age")
        for (const auto& g : m.age_groups)
            if (!parse_group_label(g)) bad("age group label '" + g + "' is not LO-HI (needed by age_group_rule expected_age)");
    if (m.age_bins.size() < 2) bad("age_bins needs at least 2 bins");
    if (m.gender_labels.size() != 2) bad("gender_labels must have 2 labels");
    // metadata.py _check_align / _check_calibration
    if (m.align) {
        const AlignSpec& a = *m.align;
        if (a.method != "similarity5") bad("align.method '" + a.method + "' is not supported (similarity5)");
        if (a.landmarks != "yunet5") bad("align.landmarks '" + a.landmarks + "' is not supported (yunet5)");
        if (a.border != "replicate" && a.border != "constant") bad("align.border must be replicate or constant");
        if (a.interpolation != "linear" && a.interpolation != "cubic") bad("align.interpolation must be linear or cubic");
        for (const auto& p : a.templ)
            if (!std::isfinite(p[0]) || !std::isfinite(p[1])) bad("align.template has a non-finite point");
    }
    const auto& q = m.calibration.age_interval_quantiles;
    if (!(m.calibration.gender_temperature > 0.0 && std::isfinite(m.calibration.gender_temperature) && 0.0 < q[0] &&
          q[0] < q[1] && q[1] < 1.0))
        bad("calibration needs gender_temperature > 0 and 0 < age_interval_quantiles[0] < [1] < 1");
    return m;
}

}  // namespace agegender_edge
