#include "engine_cache.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "agegender_edge/onnx_model.hpp"

namespace agegender_edge {

std::string py_json_string(const std::string& s) {
    std::string out = "\"";
    char buf[16];
    for (std::size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        std::uint32_t cp = c;
        std::size_t len = 1;
        if (c >= 0x80) {  // decode UTF-8; invalid bytes become U+FFFD
            if ((c & 0xE0) == 0xC0) { cp = c & 0x1F; len = 2; }
            else if ((c & 0xF0) == 0xE0) { cp = c & 0x0F; len = 3; }
            else if ((c & 0xF8) == 0xF0) { cp = c & 0x07; len = 4; }
            else { cp = 0xFFFD; }
            if (len > 1) {
                if (i + len > s.size()) { cp = 0xFFFD; len = 1; }
                else
                    for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
            }
        }
        i += len;
        if (cp == '"') out += "\\\"";
        else if (cp == '\\') out += "\\\\";
        else if (cp == '\n') out += "\\n";
        else if (cp == '\r') out += "\\r";
        else if (cp == '\t') out += "\\t";
        else if (cp == '\b') out += "\\b";
        else if (cp == '\f') out += "\\f";
        else if (cp < 0x20 || (cp > 0x7F && cp < 0x10000)) {  // DEL (0x7F) stays as is, like Python
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
            out += buf;
        } else if (cp >= 0x10000) {
            const std::uint32_t v = cp - 0x10000;
            std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                          static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
            out += buf;
        } else {
            out += static_cast<char>(cp);
        }
    }
    return out + "\"";
}

std::string EngineCacheKey::canonical_json() const {
    return "{\"compute_capability\": " + py_json_string(compute_capability) +
           ", \"dla_core\": null, \"gpu_name\": " + py_json_string(gpu_name) +
           ", \"onnx_sha256\": " + py_json_string(onnx_sha256) + ", \"precision\": " + py_json_string(precision) +
           ", \"profile\": {\"max\": " + std::to_string(profile.max) + ", \"min\": " + std::to_string(profile.min) +
           ", \"opt\": " + std::to_string(profile.opt) + "}, \"sdk_engine_format\": " + std::to_string(kSidecarFormat) +
           ", \"tensorrt_version\": " + py_json_string(tensorrt_version) + "}";
}

std::string EngineCacheKey::digest() const {
    const std::string s = canonical_json();
    return sha256_hex(s.data(), s.size());
}

std::string engine_cache_path(const std::string& dir, const std::string& stem, const EngineCacheKey& key) {
    return dir + "/" + stem + "-" + key.precision + "-" + key.digest().substr(0, 16) + ".engine";
}

std::string default_engine_cache_dir() {
    if (const char* env = std::getenv("AGEGENDER_EDGE_ENGINE_CACHE"); env && *env) return env;
    std::string base;
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) base = x;
    else if (const char* h = std::getenv("HOME"); h && *h) base = std::string(h) + "/.cache";
    else base = ".cache";
    return base + "/agegender_edge/engines";
}

std::string normalise_tensorrt_version(const std::string& version) {
    std::string out;
    std::size_t pos = 0;
    for (int part = 0; part < 3; ++part) {
        std::string digits;
        if (pos <= version.size()) {
            const std::size_t dot = version.find('.', pos);
            const std::string piece = version.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
            for (char c : piece) {
                if (c < '0' || c > '9') break;
                digits += c;
            }
            pos = dot == std::string::npos ? version.size() + 1 : dot + 1;
        }
        // as Python's int(): no leading zeros, empty -> 0
        while (digits.size() > 1 && digits[0] == '0') digits.erase(0, 1);
        out += (part ? "." : "") + (digits.empty() ? std::string("0") : digits);
    }
    return out;
}

bool tensorrt_versions_match(const std::string& a, const std::string& b) {
    return normalise_tensorrt_version(a) == normalise_tensorrt_version(b);
}

std::string file_stem(const std::string& path) {
    const auto slash = path.find_last_of('/');
    const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    const auto dot = name.find_last_of('.');
    return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

}  // namespace agegender_edge
