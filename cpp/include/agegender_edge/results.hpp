// Typed results; JSON with the same keys as the Python ImageResult.to_dict() (results.py).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agegender_edge/decode.hpp"
#include "agegender_edge/detection.hpp"

namespace agegender_edge {

struct BoundingBox {
    double x = 0, y = 0, width = 0, height = 0;
    double iou(const BoundingBox& other) const;
};

struct FaceResult {
    BoundingBox box;        // the detected face (whole image when there is no detector)
    BoundingBox crop_box;   // the square chip the model saw (may extend past the image)
    double detection_score = 0;
    Prediction prediction;
    std::optional<std::array<std::array<double, 2>, 5>> landmarks;
};

struct ImageResult {
    std::string source;
    std::vector<FaceResult> faces;
    int width = 0, height = 0;
    std::optional<std::string> error;       // message naming the problem, when the image failed
    std::optional<std::string> error_type;  // e.g. "InvalidImageError"
    bool ok() const { return !error.has_value(); }
};

// One ImageResult as a JSON object / a list of them as a JSON array. indent < 0: compact.
std::string to_json(const ImageResult& result, int indent = -1);
std::string to_json(const std::vector<ImageResult>& results, int indent = -1);

}  // namespace agegender_edge
