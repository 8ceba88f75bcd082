#include "agegender_edge/results.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace agegender_edge {

using ojson = nlohmann::ordered_json;

double BoundingBox::iou(const BoundingBox& o) const {
    const double iw = std::max(0.0, std::min(x + width, o.x + o.width) - std::max(x, o.x));
    const double ih = std::max(0.0, std::min(y + height, o.y + o.height) - std::max(y, o.y));
    const double inter = iw * ih;
    const double uni = width * height + o.width * o.height - inter;
    return uni > 0 ? inter / uni : 0.0;
}

namespace {
ojson box_json(const BoundingBox& b) { return ojson{{"x", b.x}, {"y", b.y}, {"width", b.width}, {"height", b.height}}; }

ojson image_json(const ImageResult& r) {
    ojson faces = ojson::array();
    for (const auto& f : r.faces) {
        const Prediction& p = f.prediction;
        ojson probs = ojson::object();
        for (const auto& [label, v] : p.age_group_probs) probs[label] = v;
        ojson face;
        face["box"] = box_json(f.box);
        face["crop_box"] = box_json(f.crop_box);
        face["detection_score"] = f.detection_score;
        face["age_group"] = p.age_group;
        face["age_group_probs"] = probs;
        face["age"] = p.age;
        face["age_std"] = p.age_std;
        face["age_interval_80"] = {p.age_interval_80[0], p.age_interval_80[1]};
        face["gender"] = p.gender;
        face["gender_probability"] = p.gender_probability;
        if (!p.embedding.empty()) face["embedding"] = p.embedding;   // only when asked for (as Python)
        if (f.landmarks) {
            ojson lm = ojson::array();
            for (const auto& pt : *f.landmarks) lm.push_back({pt[0], pt[1]});
            face["landmarks"] = lm;
        } else {
            face["landmarks"] = nullptr;
        }
        faces.push_back(std::move(face));
    }
    ojson j;
    j["source"] = r.source;
    j["faces"] = std::move(faces);
    j["width"] = r.width;
    j["height"] = r.height;
    j["error"] = r.error ? ojson(*r.error) : ojson(nullptr);
    j["error_type"] = r.error_type ? ojson(*r.error_type) : ojson(nullptr);
    return j;
}
}  // namespace

std::string to_json(const ImageResult& r, int indent) {
    return image_json(r).dump(indent, ' ', false, ojson::error_handler_t::replace);
}

std::string to_json(const std::vector<ImageResult>& results, int indent) {
    ojson arr = ojson::array();
    for (const auto& r : results) arr.push_back(image_json(r));
    return arr.dump(indent, ' ', false, ojson::error_handler_t::replace);
}

}  // namespace agegender_edge
