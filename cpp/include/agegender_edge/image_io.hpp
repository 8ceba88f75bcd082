// Image decoding as agegender_edge/imageio.py: any file OpenCV decodes -> BGR uint8 HxWx3.
// Oversized images are refused from the header before decoding; gray, 16-bit and alpha images are
// converted the same way as in Python.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

namespace agegender_edge {

inline constexpr std::int64_t kDefaultMaxPixels = 50'000'000;

// Image format from the file signature ("jpeg", "png", "bmp", "webp", "gif", "tiff", "pnm", "jp2",
// "j2k", "avif", "sunras", and the refused float formats "pfm", "hdr", "exr"); "" when unknown.
std::string sniff_format(const std::uint8_t* data, std::size_t size);

// True when an end-of-image marker follows the first start-of-scan (a JPEG not cut short).
bool jpeg_is_complete(const std::uint8_t* data, std::size_t size);

// (width, height) from the image header; nullopt when the format or its size is not known.
std::optional<std::pair<std::int64_t, std::int64_t>> image_size_from_header(const std::uint8_t* data, std::size_t size);

// Decodes encoded bytes as imageio.py decode_bytes: only known formats, size checked from the
// header before decoding, truncated JPEGs and float formats refused, then
// cv::imdecode: JPEGs with their EXIF orientation applied (boxes in the upright image), other
// formats with IMREAD_UNCHANGED | IMREAD_IGNORE_ORIENTATION.
// Throws InvalidImageError / ImageTooLargeError naming `source`.
cv::Mat decode_image(const std::vector<std::uint8_t>& bytes, const std::string& source,
                     std::int64_t max_pixels = kDefaultMaxPixels);

// Reads and decodes a file. Throws InvalidImageError ("no such file", "not a regular file", ...).
cv::Mat load_image(const std::string& path, std::int64_t max_pixels = kDefaultMaxPixels);

// 8/16-bit gray, gray+alpha, 3- or 4-channel image in `colour_order` ("BGR" or "RGB") -> BGR uint8, 3 channels.
cv::Mat normalise_image(const cv::Mat& img, const std::string& colour_order, const std::string& source);

}  // namespace agegender_edge
