// Face chip extraction and network input layout, driven by the model metadata
// (agegender_edge/preprocess.py). The box rule: the detector box becomes a square chip; the part
// of it that "resize to crop.resize_to, centre crop input.size" (the training chips) keeps is cut
// from the image (zero padding where it leaves the image) and resized ONCE straight to the input
// size (the crop's interpolation, INTER_AREA, when shrinking; INTER_LINEAR when enlarging). Then
// colour order, HWC uint8 -> CHW float32 (normalised here only when the graph does not normalise).
//
// Landmark alignment (agegender_edge/align.py, one definition for both runtimes): when the model's
// metadata has an "align" section and the detection has five landmarks, the face is one
// similarity warp straight to the input size; the box rule above otherwise.
#pragma once

#include <array>
#include <optional>

#include <opencv2/core.hpp>

#include "agegender_edge/detection.hpp"
#include "agegender_edge/metadata.hpp"
#include "agegender_edge/results.hpp"

namespace agegender_edge {

struct SquareRegion { int x0, y0, side; };

// Integer (x0, y0, side) of a square chip, side >= 1; Python round() semantics (half to even).
SquareRegion square_region(double cx, double cy, double side);

// The w x h rectangle at (x0, y0) of a BGR image: a view when it lies inside the image, else a
// copy zero-padded where it leaves the image.
cv::Mat cut_rect(const cv::Mat& bgr, int x0, int y0, int w, int h);

// The side x side square at (x0, y0) of a BGR image, zero-padded where it leaves the image.
cv::Mat cut_square(const cv::Mat& bgr, int x0, int y0, int side);

struct KeptRegion { int x, y, width, height; };

// preprocess.py kept_region: the part of a chip (at x0, y0, chip_w x chip_h) that "resize to
// crop.resize_to, centre-crop input.size" keeps, in the chip's source pixels (Python round(),
// width and height >= 1).
KeptRegion kept_region(double x0, double y0, double chip_w, double chip_h, const ModelMetadata& meta);

// preprocess.py resize_into: one resize of a BGR region to the input size (a copy when it has
// that size already).
cv::Mat resize_to_input(const cv::Mat& region, const ModelMetadata& meta);

// preprocess.py box_face: the box rule for the square chip (x0, y0, side) of `bgr` -> HxWx3 BGR.
cv::Mat box_face(const cv::Mat& bgr, int x0, int y0, int side, const ModelMetadata& meta);

// A whole BGR face chip (training-style) -> HxWx3 uint8 network input in the model's colour order
// (the box rule with the chip as the box).
cv::Mat chip_to_input(const cv::Mat& chip_bgr, const ModelMetadata& meta);

using Landmarks = std::array<std::array<double, 2>, 5>;

// align.py similarity_transform: 2x3 (CV_64F) least-squares similarity (no reflection) mapping
// `src` onto `dst`; nullopt when the source points are not finite or degenerate (one spot).
std::optional<cv::Mat> similarity_transform(const Landmarks& src, const Landmarks& dst);

// align.py template_pixels: the template in pixels of an output of height x width (+ pad).
Landmarks template_pixels(const AlignSpec& spec, int height, int width, int pad = 0);

// align.py warp_face: the aligned face (height x width, the source's channel order), with the
// antialias reduction when the transform shrinks by more than 2x.
cv::Mat warp_face(const cv::Mat& bgr, const cv::Mat& matrix, int height, int width, const AlignSpec& spec);

struct AlignedFace {
    cv::Mat face;                  // BGR, input height x width
    cv::Mat matrix;                // 2x3 CV_64F, source pixels -> output pixels
    double scale = 0, cx = 0, cy = 0, side = 0;  // align.py describe_crop
};

// align.py align_landmarks (pad 0): nullopt when the landmarks are unusable.
std::optional<AlignedFace> align_landmarks(const cv::Mat& bgr, const Landmarks& landmarks, const AlignSpec& spec,
                                           int height, int width);

struct FaceInput {
    cv::Mat input;        // HxWx3 uint8 in the model's colour order
    BoundingBox crop;     // the square region of the original image it covers
    bool aligned = false;
};

// preprocess.py face_input: landmark alignment when the metadata asks for it and the detection
// has usable landmarks, the box rule (chip calibration `calib`) otherwise.
FaceInput face_input(const cv::Mat& bgr, const Detection& d, const ChipCalibration& calib, const ModelMetadata& meta);

// Writes one HxWx3 uint8 input as CHW float32 at `dst` (3*H*W floats).
void write_chw(const cv::Mat& face_input, const ModelMetadata& meta, float* dst);

}  // namespace agegender_edge
