#include "agegender_edge/preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include <opencv2/imgproc.hpp>

namespace agegender_edge {

namespace {

// Python round() on a double: to the nearest integer, ties to even (not std::round's "away from
// zero"); independent of the floating-point rounding mode. v - floor(v) is exact for doubles.
double round_half_even(double v) {
    const double f = std::floor(v), frac = v - f;
    if (frac > 0.5) return f + 1.0;
    if (frac < 0.5) return f;
    return std::fmod(f, 2.0) == 0.0 ? f : f + 1.0;
}

int py_round(double v) { return static_cast<int>(round_half_even(v)); }

int resize_interpolation(const std::string& name) {
    if (name == "area") return cv::INTER_AREA;
    if (name == "cubic") return cv::INTER_CUBIC;
    return cv::INTER_LINEAR;
}

}  // namespace

SquareRegion square_region(double cx, double cy, double side) {
    const int s = std::max(1, py_round(side));
    return {py_round(cx - s / 2.0), py_round(cy - s / 2.0), s};
}

cv::Mat cut_rect(const cv::Mat& bgr, int x0, int y0, int w, int h) {
    const int ix0 = std::max(0, x0), iy0 = std::max(0, y0);
    const int ix1 = std::min(bgr.cols, x0 + w), iy1 = std::min(bgr.rows, y0 + h);
    if (ix0 >= ix1 || iy0 >= iy1) return cv::Mat::zeros(h, w, CV_8UC3);
    cv::Mat inside = bgr(cv::Rect(ix0, iy0, ix1 - ix0, iy1 - iy0));
    if (ix0 == x0 && iy0 == y0 && ix1 == x0 + w && iy1 == y0 + h) return inside;
    cv::Mat out;
    cv::copyMakeBorder(inside, out, iy0 - y0, y0 + h - iy1, ix0 - x0, x0 + w - ix1, cv::BORDER_CONSTANT,
                       cv::Scalar(0, 0, 0));
    return out;
}

cv::Mat cut_square(const cv::Mat& bgr, int x0, int y0, int s) { return cut_rect(bgr, x0, y0, s, s); }

KeptRegion kept_region(double x0, double y0, double chip_w, double chip_h, const ModelMetadata& meta) {
    const int r = meta.crop.resize_to;
    const int h = meta.input.height, w = meta.input.width;
    // Python's floor division (r may be below the input size: negative offsets, a zero border)
    auto floor_half = [](int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); };
    const int oy = floor_half(r - h), ox = floor_half(r - w);
    const double fx = chip_w / r, fy = chip_h / r;
    // the same double operations, in the same order, as preprocess.py (no FMA: -ffp-contract=off)
    const int rx0 = py_round(x0 + ox * fx), ry0 = py_round(y0 + oy * fy);
    const int rx1 = py_round(x0 + (ox + w) * fx), ry1 = py_round(y0 + (oy + h) * fy);
    return {rx0, ry0, std::max(1, rx1 - rx0), std::max(1, ry1 - ry0)};
}

cv::Mat resize_to_input(const cv::Mat& region, const ModelMetadata& meta) {
    const int h = meta.input.height, w = meta.input.width;
    if (region.rows == h && region.cols == w) return region.clone();  // copied, not resampled
    // the crop's interpolation (area) when shrinking, as the training chips were made; linear
    // when enlarging (area == nearest there). preprocess.py decides on the width, as here.
    const int interp = region.cols > w ? resize_interpolation(meta.crop.interpolation) : cv::INTER_LINEAR;
    cv::Mat out;
    cv::resize(region, out, cv::Size(w, h), 0, 0, interp);
    return out;
}

cv::Mat box_face(const cv::Mat& bgr, int x0, int y0, int side, const ModelMetadata& meta) {
    const KeptRegion k = kept_region(x0, y0, side, side, meta);
    return resize_to_input(cut_rect(bgr, k.x, k.y, k.width, k.height), meta);
}

namespace {

cv::Mat in_colour_order(cv::Mat bgr, const ModelMetadata& meta) {
    if (meta.input.colour_order != "RGB") return bgr;
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return rgb;
}

}  // namespace

cv::Mat chip_to_input(const cv::Mat& chip_bgr, const ModelMetadata& meta) {
    const KeptRegion k = kept_region(0, 0, chip_bgr.cols, chip_bgr.rows, meta);
    return in_colour_order(resize_to_input(cut_rect(chip_bgr, k.x, k.y, k.width, k.height), meta), meta);
}

// ---- landmark alignment: the arithmetic of agegender_edge/align.py, in double ----------------

std::optional<cv::Mat> similarity_transform(const Landmarks& src, const Landmarks& dst) {
    const std::size_t n = src.size();
    for (std::size_t k = 0; k < n; ++k)
        if (!std::isfinite(src[k][0]) || !std::isfinite(src[k][1]) || !std::isfinite(dst[k][0]) ||
            !std::isfinite(dst[k][1]))
            return std::nullopt;
    double ms[2] = {0, 0}, md[2] = {0, 0};
    for (std::size_t k = 0; k < n; ++k)
        for (int j = 0; j < 2; ++j) { ms[j] += src[k][j]; md[j] += dst[k][j]; }
    for (int j = 0; j < 2; ++j) { ms[j] /= double(n); md[j] /= double(n); }
    double var_s = 0, cov[2][2] = {{0, 0}, {0, 0}};
    for (std::size_t k = 0; k < n; ++k) {
        const double s0[2] = {src[k][0] - ms[0], src[k][1] - ms[1]};
        const double d0[2] = {dst[k][0] - md[0], dst[k][1] - md[1]};
        var_s += s0[0] * s0[0] + s0[1] * s0[1];
        for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j) cov[i][j] += d0[i] * s0[j];  // d0.T @ s0
    }
    var_s /= double(n);
    if (var_s < 1e-6) return std::nullopt;
    for (auto& row : cov)
        for (double& v : row) v /= double(n);
    const double a = cov[0][0] + cov[1][1], b = cov[1][0] - cov[0][1];
    const double norm = std::hypot(a, b);
    if (norm < 1e-12) return std::nullopt;
    const double scale = norm / var_s, c = a / norm, sn = b / norm;
    const double r00 = c * scale, r01 = -sn * scale, r10 = sn * scale, r11 = c * scale;
    cv::Mat m(2, 3, CV_64F);
    m.at<double>(0, 0) = r00; m.at<double>(0, 1) = r01; m.at<double>(0, 2) = md[0] - (r00 * ms[0] + r01 * ms[1]);
    m.at<double>(1, 0) = r10; m.at<double>(1, 1) = r11; m.at<double>(1, 2) = md[1] - (r10 * ms[0] + r11 * ms[1]);
    return m;
}

Landmarks template_pixels(const AlignSpec& spec, int height, int width, int pad) {
    Landmarks out{};
    for (std::size_t k = 0; k < out.size(); ++k)
        out[k] = {spec.templ[k][0] * width + pad, spec.templ[k][1] * height + pad};
    return out;
}

namespace {

// Python floor division / math.floor / math.ceil on doubles, as align.py uses them.
int floor_int(double v) { return static_cast<int>(std::floor(v)); }
int ceil_int(double v) { return static_cast<int>(std::ceil(v)); }

// align.py _reduce_footprint: box-average the part of the image the warp samples by the integer
// factor n (INTER_AREA) and rewrite the transform for the reduced pixels. Returns false (inputs
// untouched) when the footprint lies outside the image.
bool reduce_footprint(const cv::Mat& bgr, const cv::Mat& m, int height, int width, int n, cv::Mat& small,
                      cv::Mat& m_small) {
    cv::Mat inv;
    cv::invertAffineTransform(m, inv);
    const double pts[4][2] = {{0, 0}, {double(width), 0}, {0, double(height)}, {double(width), double(height)}};
    double xmin = 0, xmax = 0, ymin = 0, ymax = 0;
    for (int k = 0; k < 4; ++k) {
        const double x = pts[k][0] * inv.at<double>(0, 0) + pts[k][1] * inv.at<double>(0, 1) + inv.at<double>(0, 2);
        const double y = pts[k][0] * inv.at<double>(1, 0) + pts[k][1] * inv.at<double>(1, 1) + inv.at<double>(1, 2);
        if (k == 0 || x < xmin) xmin = x;
        if (k == 0 || x > xmax) xmax = x;
        if (k == 0 || y < ymin) ymin = y;
        if (k == 0 || y > ymax) ymax = y;
    }
    const int x0 = std::max(0, floor_int(xmin) - n), y0 = std::max(0, floor_int(ymin) - n);
    const int x1 = std::min(bgr.cols, ceil_int(xmax) + n), y1 = std::min(bgr.rows, ceil_int(ymax) + n);
    if (x1 - x0 < n || y1 - y0 < n) return false;  // (x1 - x0) // n < 1
    const int rw = (x1 - x0) / n, rh = (y1 - y0) / n;
    cv::resize(bgr(cv::Rect(x0, y0, rw * n, rh * n)), small, cv::Size(rw, rh), 0, 0, cv::INTER_AREA);
    m_small = cv::Mat(2, 3, CV_64F);
    const double ox = x0 + (n - 1) / 2.0, oy = y0 + (n - 1) / 2.0;
    for (int i = 0; i < 2; ++i) {
        m_small.at<double>(i, 0) = m.at<double>(i, 0) * n;
        m_small.at<double>(i, 1) = m.at<double>(i, 1) * n;
        m_small.at<double>(i, 2) = (m.at<double>(i, 0) * ox + m.at<double>(i, 1) * oy) + m.at<double>(i, 2);
    }
    return true;
}

}  // namespace

cv::Mat warp_face(const cv::Mat& bgr, const cv::Mat& matrix, int height, int width, const AlignSpec& spec) {
    const double scale = std::hypot(matrix.at<double>(0, 0), matrix.at<double>(1, 0));
    cv::Mat src = bgr, m = matrix;
    if (spec.antialias && scale < 0.5) {
        const int n = static_cast<int>(std::floor(1.0 / scale));
        cv::Mat small, m_small;
        if (reduce_footprint(bgr, matrix, height, width, n, small, m_small)) { src = small; m = m_small; }
    }
    const int flags = spec.interpolation == "cubic" ? cv::INTER_CUBIC : cv::INTER_LINEAR;
    const int border = spec.border == "constant" ? cv::BORDER_CONSTANT : cv::BORDER_REPLICATE;
    cv::Mat out;
    cv::warpAffine(src, out, m, cv::Size(width, height), flags, border, cv::Scalar(0, 0, 0));
    return out;
}

std::optional<AlignedFace> align_landmarks(const cv::Mat& bgr, const Landmarks& landmarks, const AlignSpec& spec,
                                           int height, int width) {
    auto m = similarity_transform(landmarks, template_pixels(spec, height, width));
    if (!m) return std::nullopt;
    AlignedFace a;
    a.matrix = *m;
    a.face = warp_face(bgr, a.matrix, height, width, spec);
    // align.py describe_crop
    a.scale = std::hypot(a.matrix.at<double>(0, 0), a.matrix.at<double>(1, 0));
    cv::Mat inv;
    cv::invertAffineTransform(a.matrix, inv);
    const double hx = width / 2.0, hy = height / 2.0;
    a.cx = inv.at<double>(0, 0) * hx + inv.at<double>(0, 1) * hy + inv.at<double>(0, 2);
    a.cy = inv.at<double>(1, 0) * hx + inv.at<double>(1, 1) * hy + inv.at<double>(1, 2);
    a.side = width / a.scale;
    return a;
}

FaceInput face_input(const cv::Mat& bgr, const Detection& d, const ChipCalibration& calib, const ModelMetadata& meta) {
    FaceInput f;
    if (meta.align && d.landmarks) {
        if (auto a = align_landmarks(bgr, *d.landmarks, *meta.align, meta.input.height, meta.input.width)) {
            if (meta.input.colour_order == "RGB") cv::cvtColor(a->face, f.input, cv::COLOR_BGR2RGB);
            else f.input = a->face;
            f.crop = {a->cx - a->side / 2.0, a->cy - a->side / 2.0, a->side, a->side};
            f.aligned = true;
            return f;
        }
    }
    const auto chip = calib.chip(d);
    const SquareRegion r = square_region(chip.cx, chip.cy, chip.side);
    f.input = in_colour_order(box_face(bgr, r.x0, r.y0, r.side, meta), meta);
    f.crop = {double(r.x0), double(r.y0), double(r.side), double(r.side)};
    return f;
}

void write_chw(const cv::Mat& face, const ModelMetadata& meta, float* dst) {
    const int h = meta.input.height, w = meta.input.width;
    const std::size_t plane = static_cast<std::size_t>(h) * w;
    for (int y = 0; y < h; ++y) {
        const std::uint8_t* row = face.ptr<std::uint8_t>(y);
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c) dst[c * plane + static_cast<std::size_t>(y) * w + x] = row[3 * x + c];
    }
    if (!meta.input.normalize_in_graph) {
        for (int c = 0; c < 3; ++c) {
            const float m = meta.input.mean[c], s = meta.input.std[c];
            for (std::size_t i = 0; i < plane; ++i) dst[c * plane + i] = (dst[c * plane + i] - m) / s;
        }
    }
}

}  // namespace agegender_edge
