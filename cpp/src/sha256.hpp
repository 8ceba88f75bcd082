#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace agegender_edge {

class Sha256 {
public:
    Sha256();
    void update(const void* data, std::size_t size);
    std::string hexdigest();  // call once

private:
    void block(const std::uint8_t* p);
    std::uint32_t h_[8];
    std::uint8_t buf_[64] = {};
    std::size_t fill_ = 0;
    std::uint64_t total_ = 0;
};

}  // namespace agegender_edge
