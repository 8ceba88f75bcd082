#include "protobuf.hpp"

#include <cstring>

#include "agegender_edge/errors.hpp"

namespace agegender_edge::pb {

namespace {
std::uint64_t read_varint(const std::uint8_t* data, std::size_t size, std::size_t& pos) {
    std::uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (pos >= size) throw ModelError("truncated protobuf varint (file cut short?)");
        const std::uint8_t b = data[pos++];
        result |= std::uint64_t(b & 0x7F) << shift;
        if (!(b & 0x80)) return result;
    }
    throw ModelError("malformed protobuf varint");
}
}  // namespace

std::vector<Field> parse(const std::uint8_t* data, std::size_t size) {
    std::vector<Field> fields;
    std::size_t pos = 0;
    while (pos < size) {
        Field f;
        const std::size_t start = pos;
        const std::uint64_t key = read_varint(data, size, pos);
        f.number = static_cast<std::uint32_t>(key >> 3);
        f.wire = static_cast<std::uint32_t>(key & 7);
        if (f.number == 0) throw ModelError("malformed protobuf field number 0 (not a protobuf file?)");
        switch (f.wire) {
            case 0:
                f.varint = read_varint(data, size, pos);
                break;
            case 1:
            case 5: {
                const std::size_t n = f.wire == 1 ? 8 : 4;
                if (size - pos < n) throw ModelError("truncated protobuf fixed field (file cut short?)");
                f.data = data + pos;
                f.size = n;
                pos += n;
                break;
            }
            case 2: {
                const std::uint64_t len = read_varint(data, size, pos);
                if (len > size - pos) throw ModelError("truncated protobuf field (file cut short?)");
                f.data = data + pos;
                f.size = static_cast<std::size_t>(len);
                pos += f.size;
                break;
            }
            default:
                throw ModelError("unsupported protobuf wire type " + std::to_string(f.wire) + " (not a protobuf file?)");
        }
        f.raw = data + start;
        f.raw_size = pos - start;
        fields.push_back(f);
    }
    return fields;
}

std::vector<std::int64_t> int64s(const std::vector<Field>& fields, std::uint32_t number) {
    std::vector<std::int64_t> out;
    for (const auto& f : fields) {
        if (f.number != number) continue;
        if (f.wire == 0) {
            out.push_back(static_cast<std::int64_t>(f.varint));
        } else if (f.wire == 2) {
            std::size_t pos = 0;
            while (pos < f.size) out.push_back(static_cast<std::int64_t>(read_varint(f.data, f.size, pos)));
        }
    }
    return out;
}

void Writer::varint(std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<std::uint8_t>(v | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<std::uint8_t>(v));
}

void Writer::field_bytes(std::uint32_t number, const void* data, std::size_t size) {
    key(number, 2);
    varint(size);
    const auto* p = static_cast<const std::uint8_t*>(data);
    out.insert(out.end(), p, p + size);
}

void Writer::field_float(std::uint32_t number, float f) {
    key(number, 5);
    std::uint8_t b[4];
    std::memcpy(b, &f, 4);  // protobuf fixed32 is little-endian, as are all supported targets
    out.insert(out.end(), b, b + 4);
}

}  // namespace agegender_edge::pb
