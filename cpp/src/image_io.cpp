#include "agegender_edge/image_io.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sys/stat.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "agegender_edge/errors.hpp"

namespace agegender_edge {

namespace {
std::uint32_t be32(const std::uint8_t* p) { return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3]; }
std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::int32_t le32s(const std::uint8_t* p) {
    return static_cast<std::int32_t>(std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[3]) << 24));
}

const char* depth_name(int depth) {
    static const char* names[] = {"uint8", "int8", "uint16", "int16", "int32", "float32", "float64", "float16"};
    return names[depth & 7];
}

void check_pixels(std::int64_t w, std::int64_t h, std::int64_t max_pixels, const std::string& source) {
    if (w * h > max_pixels)
        throw ImageTooLargeError(source + ": image is " + std::to_string(w) + "x" + std::to_string(h) + " = " +
                                 std::to_string(w * h) + " pixels, over the limit of " + std::to_string(max_pixels) +
                                 " (max_pixels); refused before decoding");
}
}  // namespace

std::string sniff_format(const std::uint8_t* d, std::size_t n) {
    auto starts = [&](std::size_t off, const char* sig, std::size_t len) {
        return n >= off + len && std::memcmp(d + off, sig, len) == 0;
    };
    auto space = [](std::uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
    if (starts(0, "\xff\xd8\xff", 3)) return "jpeg";
    if (starts(0, "\x89PNG\r\n\x1a\n", 8)) return "png";
    if (starts(0, "BM", 2)) return "bmp";
    if (starts(0, "RIFF", 4) && starts(8, "WEBP", 4)) return "webp";
    if (starts(0, "GIF87a", 6) || starts(0, "GIF89a", 6)) return "gif";
    if (starts(0, "II*\x00", 4) || starts(0, "MM\x00*", 4)) return "tiff";
    if (n >= 3 && d[0] == 'P' && d[1] >= '1' && d[1] <= '6' && space(d[2])) return "pnm";
    if (n >= 3 && d[0] == 'P' && (d[1] == 'F' || d[1] == 'f') && space(d[2])) return "pfm";
    if (starts(0, "\x00\x00\x00\x0cjP  \r\n\x87\n", 12)) return "jp2";
    if (starts(0, "\xff\x4f\xff\x51", 4)) return "j2k";
    if (starts(4, "ftyp", 4) && (starts(8, "avif", 4) || starts(8, "avis", 4) || starts(8, "mif1", 4) || starts(8, "msf1", 4)))
        return "avif";
    if (starts(0, "\x59\xa6\x6a\x95", 4)) return "sunras";
    if (starts(0, "#?RADIANCE", 10) || starts(0, "#?RGBE", 6)) return "hdr";
    if (starts(0, "\x76\x2f\x31\x01", 4)) return "exr";
    return "";
}

namespace {
using Size2 = std::optional<std::pair<std::int64_t, std::int64_t>>;

bool is_sof(std::uint8_t m) {
    switch (m) {
        case 0xC0: case 0xC1: case 0xC2: case 0xC3: case 0xC5: case 0xC6: case 0xC7:
        case 0xC9: case 0xCA: case 0xCB: case 0xCD: case 0xCE: case 0xCF: return true;
        default: return false;
    }
}

Size2 jpeg_size(const std::uint8_t* d, std::size_t n) {
    std::size_t pos = 2;
    while (pos + 4 <= n) {
        if (d[pos] != 0xFF) { ++pos; continue; }
        const std::uint8_t m = d[pos + 1];
        if (m == 0xFF) { ++pos; continue; }
        if (m == 0xD8 || m == 0x01 || m == 0x00 || (m >= 0xD0 && m <= 0xD7)) { pos += 2; continue; }
        if (m == 0xD9 || m == 0xDA) return std::nullopt;
        const std::size_t seg = be16(d + pos + 2);
        if (is_sof(m)) {
            if (pos + 9 <= n) return std::make_pair<std::int64_t, std::int64_t>(be16(d + pos + 7), be16(d + pos + 5));
            return std::nullopt;
        }
        if (seg < 2) return std::nullopt;
        pos += 2 + seg;
    }
    return std::nullopt;
}

std::uint32_t rd32(const std::uint8_t* p, bool le) {
    return le ? (std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[3]) << 24)) : be32(p);
}
std::uint16_t rd16(const std::uint8_t* p, bool le) { return le ? le16(p) : be16(p); }

Size2 tiff_size(const std::uint8_t* d, std::size_t n) {
    if (n < 8) return std::nullopt;
    const bool le = d[0] == 'I';
    const std::uint64_t ifd = rd32(d + 4, le);
    if (ifd < 8 || ifd + 2 > n) return std::nullopt;
    const std::uint16_t count = rd16(d + ifd, le);
    std::optional<std::int64_t> w, h;
    for (std::uint32_t i = 0; i < count; ++i) {
        const std::uint64_t e = ifd + 2 + 12ull * i;
        if (e + 12 > n) return std::nullopt;
        const std::uint16_t tag = rd16(d + e, le), typ = rd16(d + e + 2, le);
        if (tag != 256 && tag != 257) continue;
        std::int64_t v;
        if (typ == 3) v = rd16(d + e + 8, le);
        else if (typ == 4) v = rd32(d + e + 8, le);
        else return std::nullopt;
        (tag == 256 ? w : h) = v;
    }
    if (w && h) return std::make_pair(*w, *h);
    return std::nullopt;
}

Size2 pnm_size(const std::uint8_t* d, std::size_t size) {
    std::vector<std::int64_t> tokens;
    std::size_t pos = 2;
    const std::size_t n = std::min<std::size_t>(size, 4096);
    auto space = [](std::uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
    while (tokens.size() < 2 && pos < n) {
        const std::uint8_t c = d[pos];
        if (space(c)) { ++pos; }
        else if (c == '#') {
            const void* nl = std::memchr(d + pos, '\n', n - pos);
            if (!nl) return std::nullopt;
            pos = static_cast<std::size_t>(static_cast<const std::uint8_t*>(nl) - d) + 1;
        } else if (c >= '0' && c <= '9') {
            const std::size_t start = pos;
            while (pos < n && d[pos] >= '0' && d[pos] <= '9') ++pos;
            if (pos - start > 10) return std::nullopt;
            tokens.push_back(std::stoll(std::string(reinterpret_cast<const char*>(d + start), pos - start)));
        } else {
            return std::nullopt;
        }
    }
    if (tokens.size() == 2) return std::make_pair(tokens[0], tokens[1]);
    return std::nullopt;
}

Size2 jp2_size(const std::uint8_t* d, std::size_t n) {
    const std::size_t lim = std::min<std::size_t>(n, 4096);
    for (std::size_t i = 0; i + 4 <= lim; ++i) {
        if (std::memcmp(d + i, "ihdr", 4) != 0) continue;
        if (i + 12 > n) return std::nullopt;
        return std::make_pair<std::int64_t, std::int64_t>(be32(d + i + 8), be32(d + i + 4));
    }
    return std::nullopt;
}

Size2 j2k_size(const std::uint8_t* d, std::size_t n) {
    if (n < 24) return std::nullopt;
    const std::int64_t xs = be32(d + 8), ys = be32(d + 12), xo = be32(d + 16), yo = be32(d + 20);
    return std::make_pair(std::max<std::int64_t>(0, xs - xo), std::max<std::int64_t>(0, ys - yo));
}

void avif_walk(const std::uint8_t* d, std::size_t start, std::size_t end, int depth, Size2& best) {
    std::size_t pos = start;
    while (pos + 8 <= end && depth < 6) {
        std::uint64_t size = be32(d + pos);
        const char* kind = reinterpret_cast<const char*>(d + pos + 4);
        std::size_t header = 8;
        if (size == 1 && pos + 16 <= end) {
            size = (std::uint64_t(be32(d + pos + 8)) << 32) | be32(d + pos + 12);
            header = 16;
        } else if (size == 0) {
            size = end - pos;
        }
        if (size < header || size > end - pos) return;
        if (std::memcmp(kind, "ispe", 4) == 0 && size >= 20) {
            const std::int64_t w = be32(d + pos + 12), h = be32(d + pos + 16);
            if (!best || w * h > best->first * best->second) best = std::make_pair(w, h);
        } else if (std::memcmp(kind, "meta", 4) == 0) {
            avif_walk(d, pos + header + 4, pos + size, depth + 1, best);
        } else if (std::memcmp(kind, "iprp", 4) == 0 || std::memcmp(kind, "ipco", 4) == 0) {
            avif_walk(d, pos + header, pos + size, depth + 1, best);
        }
        pos += size;
    }
}
}  // namespace

std::optional<std::pair<std::int64_t, std::int64_t>> image_size_from_header(const std::uint8_t* d, std::size_t n) {
    const std::string fmt = sniff_format(d, n);
    if (fmt == "png") {
        if (n < 24 || std::memcmp(d + 12, "IHDR", 4) != 0) return std::nullopt;
        return std::make_pair<std::int64_t, std::int64_t>(be32(d + 16), be32(d + 20));
    }
    if (fmt == "bmp") {
        if (n < 26) return std::nullopt;
        if (rd32(d + 14, true) == 12) return std::make_pair<std::int64_t, std::int64_t>(le16(d + 18), le16(d + 20));
        return std::make_pair<std::int64_t, std::int64_t>(std::llabs(le32s(d + 18)), std::llabs(le32s(d + 22)));
    }
    if (fmt == "gif") {
        if (n < 10) return std::nullopt;
        return std::make_pair<std::int64_t, std::int64_t>(le16(d + 6), le16(d + 8));
    }
    if (fmt == "webp") {
        if (n < 30) return std::nullopt;
        if (std::memcmp(d + 12, "VP8X", 4) == 0)
            return std::make_pair<std::int64_t, std::int64_t>(1 + (d[24] | (d[25] << 8) | (d[26] << 16)),
                                                              1 + (d[27] | (d[28] << 8) | (d[29] << 16)));
        if (std::memcmp(d + 12, "VP8 ", 4) == 0)
            return std::make_pair<std::int64_t, std::int64_t>(le16(d + 26) & 0x3FFF, le16(d + 28) & 0x3FFF);
        if (std::memcmp(d + 12, "VP8L", 4) == 0) {
            const std::uint8_t* b = d + 21;
            return std::make_pair<std::int64_t, std::int64_t>(1 + (((b[1] & 0x3F) << 8) | b[0]),
                                                              1 + (((b[3] & 0xF) << 10) | (b[2] << 2) | ((b[1] & 0xC0) >> 6)));
        }
        return std::nullopt;
    }
    if (fmt == "jpeg") return jpeg_size(d, n);
    if (fmt == "tiff") return tiff_size(d, n);
    if (fmt == "pnm") return pnm_size(d, n);
    if (fmt == "jp2") return jp2_size(d, n);
    if (fmt == "j2k") return j2k_size(d, n);
    if (fmt == "avif") { Size2 best; avif_walk(d, 0, n, 0, best); return best; }
    if (fmt == "sunras") {
        if (n < 12) return std::nullopt;
        return std::make_pair<std::int64_t, std::int64_t>(be32(d + 4), be32(d + 8));
    }
    return std::nullopt;
}

bool jpeg_is_complete(const std::uint8_t* d, std::size_t n) {
    std::size_t pos = 2;
    while (pos + 4 <= n) {
        if (d[pos] != 0xFF) { ++pos; continue; }
        const std::uint8_t m = d[pos + 1];
        if (m == 0xFF) { ++pos; continue; }
        if (m == 0xD8 || m == 0x01 || m == 0x00 || (m >= 0xD0 && m <= 0xD7)) { pos += 2; continue; }
        if (m == 0xD9) return false;
        if (m == 0xDA) {
            for (std::size_t i = pos + 2; i + 1 < n; ++i)
                if (d[i] == 0xFF && d[i + 1] == 0xD9) return true;
            return false;
        }
        const std::size_t seg = be16(d + pos + 2);
        if (seg < 2) return false;
        pos += 2 + seg;
    }
    return false;
}

cv::Mat normalise_image(const cv::Mat& input, const std::string& colour_order, const std::string& source) {
    cv::Mat img = input;
    if (img.depth() == CV_16U) {
        cv::Mat shifted(img.size(), CV_MAKETYPE(CV_8U, img.channels()));
        const int cn = img.channels();
        for (int y = 0; y < img.rows; ++y) {
            const auto* src = img.ptr<std::uint16_t>(y);
            auto* dst = shifted.ptr<std::uint8_t>(y);
            for (int x = 0; x < img.cols * cn; ++x) dst[x] = static_cast<std::uint8_t>(src[x] >> 8);  // arr >> 8
        }
        img = shifted;
    } else if (img.depth() != CV_8U) {
        throw InvalidImageError(source + ": pixel dtype " + depth_name(img.depth()) +
                                " is not supported; pass uint8 (0-255) or uint16 pixels");
    }
    if (img.channels() == 2) {  // gray + alpha: faces are read from the gray channel
        cv::Mat gray;
        cv::extractChannel(img, gray, 0);
        img = gray;
    }
    cv::Mat out;
    if (img.channels() == 1) {
        cv::cvtColor(img, out, cv::COLOR_GRAY2BGR);
    } else if (img.channels() == 3 || img.channels() == 4) {
        if (img.channels() == 4) {
            cv::Mat three;
            const int from_to[] = {0, 0, 1, 1, 2, 2};  // drop alpha: faces are read from the colour channels
            three.create(img.size(), CV_8UC3);
            cv::mixChannels(&img, 1, &three, 1, from_to, 3);
            img = three;
        }
        if (colour_order == "RGB") cv::cvtColor(img, out, cv::COLOR_RGB2BGR);
        else out = img.isContinuous() ? img : img.clone();
    } else {
        throw InvalidImageError(source + ": image has " + std::to_string(img.channels()) +
                                " channels (want 1, 2, 3 or 4)");
    }
    if (out.rows < 1 || out.cols < 1)
        throw InvalidImageError(source + ": image is empty (" + std::to_string(out.cols) + "x" + std::to_string(out.rows) + ")");
    return out;
}

cv::Mat decode_image(const std::vector<std::uint8_t>& bytes, const std::string& source, std::int64_t max_pixels) {
    if (bytes.empty()) throw InvalidImageError(source + ": file is empty (0 bytes)");
    const std::uint8_t* d = bytes.data();
    const std::size_t n = bytes.size();
    std::string fmt = sniff_format(d, n);
    if (fmt.empty()) {
        char hex[3 * 8 + 1] = {0};
        std::size_t k = 0;
        for (std::size_t i = 0; i < std::min<std::size_t>(8, n); ++i)
            k += std::snprintf(hex + k, sizeof hex - k, i ? " %02x" : "%02x", d[i]);
        throw InvalidImageError(source + ": not a supported image format (unrecognised signature " + hex +
                                "); use JPEG, PNG, BMP, WebP, GIF, TIFF, PNM, JPEG 2000 or AVIF");
    }
    std::string upper = fmt;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (fmt == "pfm" || fmt == "hdr" || fmt == "exr")
        throw InvalidImageError(source + ": " + upper + " images hold floating-point pixels, which are not supported; "
                                "convert to 8- or 16-bit");
    const auto size = image_size_from_header(d, n);
    if (!size) throw InvalidImageError(source + ": corrupt or truncated " + upper + " header (image size not found)");
    check_pixels(size->first, size->second, max_pixels, source);
    if (size->first < 1 || size->second < 1)
        throw InvalidImageError(source + ": " + upper + " header gives an empty image (" + std::to_string(size->first) +
                                "x" + std::to_string(size->second) + ")");
    if (fmt == "jpeg" && !jpeg_is_complete(d, n))
        throw InvalidImageError(source + ": truncated JPEG (no end-of-image marker after the scan data)");
    cv::Mat img;
    try {
        // JPEG: OpenCV applies the EXIF orientation itself unless the flags are exactly
        // IMREAD_UNCHANGED (or ask to ignore it); ANYCOLOR | ANYDEPTH decodes a JPEG to the same
        // gray or BGR pixels as UNCHANGED, so a phone photo stored sideways comes out upright, as
        // in Python (imageio.apply_orientation). Other formats keep UNCHANGED (alpha, 16-bit);
        // OpenCV 4.6 reads no EXIF from PNG / WebP (Python does; docs/CPP.md).
        const int flags = fmt == "jpeg" ? (cv::IMREAD_ANYCOLOR | cv::IMREAD_ANYDEPTH)
                                        : (cv::IMREAD_UNCHANGED | cv::IMREAD_IGNORE_ORIENTATION);
        img = cv::imdecode(cv::Mat(1, static_cast<int>(n), CV_8U, const_cast<std::uint8_t*>(d)), flags);
    } catch (const cv::Exception& e) {
        throw InvalidImageError(source + ": corrupt " + upper + " image (" + (e.err.empty() ? "OpenCV error" : e.err) + ")");
    }
    if (img.empty()) throw InvalidImageError(source + ": not a decodable " + upper + " image (corrupt or truncated)");
    check_pixels(img.cols, img.rows, max_pixels, source);  // headers can disagree with the pixels
    if (img.depth() != CV_8U && img.depth() != CV_16U)
        throw InvalidImageError(source + ": " + upper + " image has " + depth_name(img.depth()) +
                                " pixels (HDR / float / signed), not supported; convert it to 8- or 16-bit");
    return normalise_image(img, "BGR", source);  // decoded images are BGR(A)
}

cv::Mat load_image(const std::string& path, std::int64_t max_pixels) {
    struct stat st{};
    if (path.empty()) throw InvalidImageError("<empty path>: the path is empty");
    if (::stat(path.c_str(), &st) != 0) throw InvalidImageError(path + ": no such file");
    if (!S_ISREG(st.st_mode)) throw InvalidImageError(path + ": not a regular file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InvalidImageError(path + ": cannot read file");
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(st.st_size));
    if (!bytes.empty() && !in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())))
        throw InvalidImageError(path + ": cannot read file");
    return decode_image(bytes, path, max_pixels);
}

}  // namespace agegender_edge
