// Minimal protobuf wire-format reader/writer (internal). Every read is bounds-checked and
// throws ModelError on truncated or malformed input: model files are untrusted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace agegender_edge::pb {

struct Field {
    std::uint32_t number = 0;
    std::uint32_t wire = 0;      // 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
    std::uint64_t varint = 0;    // wire 0
    const std::uint8_t* data = nullptr;  // payload (wire 1, 2, 5)
    std::size_t size = 0;
    const std::uint8_t* raw = nullptr;   // the whole field (key + payload), to copy it unchanged
    std::size_t raw_size = 0;
    std::string_view str() const { return {reinterpret_cast<const char*>(data), size}; }
};

// Parses one message into its fields (not recursive). Throws ModelError.
std::vector<Field> parse(const std::uint8_t* data, std::size_t size);

// Packed or unpacked repeated varints (int64) of a field list with the given number.
std::vector<std::int64_t> int64s(const std::vector<Field>& fields, std::uint32_t number);

class Writer {
public:
    void varint(std::uint64_t v);
    void key(std::uint32_t number, std::uint32_t wire) { varint((std::uint64_t(number) << 3) | wire); }
    void field_varint(std::uint32_t number, std::uint64_t v) { key(number, 0); varint(v); }
    void field_bytes(std::uint32_t number, const void* data, std::size_t size);
    void field_bytes(std::uint32_t number, std::string_view s) { field_bytes(number, s.data(), s.size()); }
    void field_bytes(std::uint32_t number, const std::vector<std::uint8_t>& b) { field_bytes(number, b.data(), b.size()); }
    void field_float(std::uint32_t number, float f);
    void raw(const Field& f) { out.insert(out.end(), f.raw, f.raw + f.raw_size); }
    std::vector<std::uint8_t> out;
};

}  // namespace agegender_edge::pb
