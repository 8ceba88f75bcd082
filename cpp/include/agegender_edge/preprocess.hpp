// Face chip extraction and network input layout, driven by the model metadata
// (agegender_edge/preprocess.py): square chip cut with zero padding, resize to crop.resize_to
// (INTER_AREA when shrinking, INTER_LINEAR when enlarging), centre crop to input.size, colour
// order, HWC uint8 -> CHW float32 (normalised here only when the graph does not normalise).
#pragma once

#include <opencv2/core.hpp>

#include "agegender_edge/metadata.hpp"

namespace agegender_edge {

struct SquareRegion { int x0, y0, side; };

// Integer (x0, y0, side) of a square chip, side >= 1; Python round() semantics (half to even).
SquareRegion square_region(double cx, double cy, double side);

// The side x side square at (x0, y0) of a BGR image, zero-padded where it leaves the image.
cv::Mat cut_square(const cv::Mat& bgr, int x0, int y0, int side);

// Square BGR chip -> HxWx3 uint8 network input in the model's colour order.
cv::Mat chip_to_input(const cv::Mat& chip_bgr, const ModelMetadata& meta);

// Writes one HxWx3 uint8 input as CHW float32 at `dst` (3*H*W floats).
void write_chw(const cv::Mat& face_input, const ModelMetadata& meta, float* dst);

}  // namespace agegender_edge
