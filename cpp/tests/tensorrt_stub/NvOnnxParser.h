// COMPILE-CHECK STUB, not TensorRT's ONNX parser (see NvInfer.h here). Never linked.
#pragma once
#include "NvInfer.h"
namespace nvonnxparser {
class IParserError {
public:
    char const* desc() const;
};
class IParser {
public:
    virtual ~IParser() noexcept;
    bool parse(void const* serialized_onnx_model, std::size_t serialized_onnx_model_size, const char* model_path = nullptr) noexcept;
    int32_t getNbErrors() const noexcept;
    IParserError const* getError(int32_t index) const noexcept;
};
IParser* createParser(nvinfer1::INetworkDefinition& network, nvinfer1::ILogger& logger) noexcept;
}  // namespace nvonnxparser
