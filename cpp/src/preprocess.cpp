#include "agegender_edge/preprocess.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace agegender_edge {

SquareRegion square_region(double cx, double cy, double side) {
    const int s = std::max(1, static_cast<int>(std::nearbyint(side)));
    return {static_cast<int>(std::nearbyint(cx - s / 2.0)), static_cast<int>(std::nearbyint(cy - s / 2.0)), s};
}

cv::Mat cut_square(const cv::Mat& bgr, int x0, int y0, int s) {
    const int h = bgr.rows, w = bgr.cols;
    const int ix0 = std::max(0, x0), iy0 = std::max(0, y0);
    const int ix1 = std::min(w, x0 + s), iy1 = std::min(h, y0 + s);
    if (ix0 >= ix1 || iy0 >= iy1) return cv::Mat::zeros(s, s, CV_8UC3);
    cv::Mat inside = bgr(cv::Rect(ix0, iy0, ix1 - ix0, iy1 - iy0));
    if (ix0 == x0 && iy0 == y0 && ix1 == x0 + s && iy1 == y0 + s) return inside;
    cv::Mat out;
    cv::copyMakeBorder(inside, out, iy0 - y0, y0 + s - iy1, ix0 - x0, x0 + s - ix1, cv::BORDER_CONSTANT,
                       cv::Scalar(0, 0, 0));
    return out;
}

cv::Mat chip_to_input(const cv::Mat& chip_bgr, const ModelMetadata& meta) {
    const int r = meta.crop.resize_to;
    int interp = cv::INTER_LINEAR;
    if (chip_bgr.rows > r) {
        if (meta.crop.interpolation == "area") interp = cv::INTER_AREA;
        else if (meta.crop.interpolation == "cubic") interp = cv::INTER_CUBIC;
    }
    cv::Mat resized = chip_bgr;
    if (chip_bgr.rows != r || chip_bgr.cols != r) cv::resize(chip_bgr, resized, cv::Size(r, r), 0, 0, interp);
    const int h = meta.input.height, w = meta.input.width;
    const int y0 = (r - h) / 2, x0 = (r - w) / 2;
    cv::Mat out = resized(cv::Rect(x0, y0, w, h));
    cv::Mat result;
    if (meta.input.colour_order == "RGB") cv::cvtColor(out, result, cv::COLOR_BGR2RGB);
    else result = out.clone();
    return result;
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
