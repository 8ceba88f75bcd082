// Writes the broken models and images the bad-input tests feed to the app, derived from a good
// model and a good face image: make_test_inputs MODEL.onnx FACE.jpg OUT_DIR
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "agegender_edge/onnx_model.hpp"
#include "protobuf.hpp"

using namespace agegender_edge;
using Bytes = std::vector<std::uint8_t>;

namespace {
Bytes read(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void write(const std::string& p, const Bytes& b) {
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    if (!out) throw std::runtime_error("cannot write " + p);
}

// The model with its metadata_props replaced (nullptr value: removed).
Bytes with_metadata(const Bytes& model, const std::string* value) {
    pb::Writer w;
    for (const auto& f : pb::parse(model.data(), model.size())) {
        if (f.number == 14 && f.wire == 2) continue;
        w.raw(f);
    }
    if (value) {
        pb::Writer entry;
        entry.field_bytes(1, std::string("agegender_edge"));
        entry.field_bytes(2, *value);
        w.field_bytes(14, entry.out);
    }
    return w.out;
}

// Flip one byte in the middle of the largest initializer's payload (still valid protobuf).
Bytes tamper_weights(const Bytes& model) {
    Bytes out = model;
    for (const auto& f : pb::parse(model.data(), model.size())) {
        if (f.number != 7 || f.wire != 2) continue;
        const pb::Field* biggest = nullptr;
        std::vector<pb::Field> graph = pb::parse(f.data, f.size);
        for (const auto& g : graph)
            if (g.number == 5 && g.wire == 2 && (!biggest || g.size > biggest->size)) biggest = &g;
        if (!biggest) break;
        const std::size_t off = static_cast<std::size_t>(biggest->data - model.data()) + biggest->size / 2;
        out[off] ^= 0x40;
        return out;
    }
    throw std::runtime_error("no initializer found");
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: make_test_inputs MODEL.onnx FACE.jpg OUT_DIR\n";
        return 2;
    }
    try {
        const Bytes model = read(argv[1]);
        const Bytes face = read(argv[2]);
        const std::string out = argv[3];
        if (model.empty() || face.empty()) throw std::runtime_error("model or face image missing/empty");
        const OnnxModelFile parsed = parse_onnx_bytes(model, argv[1]);
        std::string meta = parsed.metadata_props.at("agegender_edge");
        write(out + "/no_metadata.onnx", with_metadata(model, nullptr));
        std::string future = meta;
        // one past what this runtime reads (kFormatVersion), whatever version the model has
        const std::string key = "\"format_version\": ";
        const auto pos = future.find(key);
        if (pos == std::string::npos) throw std::runtime_error("format_version not found in the metadata");
        const auto end = future.find_first_not_of("0123456789", pos + key.size());
        future.replace(pos, end - pos, key + std::to_string(kFormatVersion + 1));
        write(out + "/future_format.onnx", with_metadata(model, &future));
        const std::string bad_json = "{\"name\": \"x\", ";
        write(out + "/bad_metadata_json.onnx", with_metadata(model, &bad_json));
        write(out + "/tampered_weights.onnx", tamper_weights(model));
        write(out + "/truncated.onnx", Bytes(model.begin(), model.begin() + static_cast<long>(model.size() / 2)));
        write(out + "/not_a_model.onnx", face);
        write(out + "/empty.onnx", {});
        write(out + "/model.engine", model);
        write(out + "/empty.jpg", {});
        write(out + "/truncated.jpg", Bytes(face.begin(), face.begin() + static_cast<long>(face.size() / 2)));
        const std::string text = "this is not an image\n";
        write(out + "/not_an_image.jpg", Bytes(text.begin(), text.end()));
        Bytes bomb = face;  // a JPEG whose header claims 60000 x 60000 pixels
        for (std::size_t i = 2; i + 9 < bomb.size(); ++i)
            if (bomb[i] == 0xFF && (bomb[i + 1] == 0xC0 || bomb[i + 1] == 0xC2)) {
                bomb[i + 5] = 0xEA; bomb[i + 6] = 0x60; bomb[i + 7] = 0xEA; bomb[i + 8] = 0x60;
                break;
            }
        write(out + "/huge_header.jpg", bomb);
        std::cout << "wrote test inputs to " << out << "\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "make_test_inputs: " << e.what() << "\n";
        return 1;
    }
}
