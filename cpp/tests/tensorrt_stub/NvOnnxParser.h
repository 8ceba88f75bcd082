// COMPILE-CHECK STUB, not TensorRT's ONNX parser (see NvInfer.h here): the signatures of
// NvOnnxParser.h in onnx/onnx-tensorrt (8.5-GA, 8.6-GA, 10.3-GA) and NVIDIA/TensorRT's include/
// (v10.16, v11.1: parse/getNbErrors/getError became noexcept). Never linked.
#pragma once
#include "NvInfer.h"
#if AGEGENDER_STUB_TRT_AT_LEAST(10, 16)
#define AGEGENDER_STUB_PARSER_NOEXCEPT noexcept
#else
#define AGEGENDER_STUB_PARSER_NOEXCEPT
#endif
namespace nvonnxparser {
class IParserError {
public:
    virtual ~IParserError() = default;
    char const* desc() const;
};
class IParser {
public:
    virtual ~IParser() noexcept = default;
    bool parse(void const* serialized_onnx_model, std::size_t serialized_onnx_model_size,
               const char* model_path = nullptr) AGEGENDER_STUB_PARSER_NOEXCEPT;
    int getNbErrors() const AGEGENDER_STUB_PARSER_NOEXCEPT;
    IParserError const* getError(int index) const AGEGENDER_STUB_PARSER_NOEXCEPT;
};
IParser* createParser(nvinfer1::INetworkDefinition& network, nvinfer1::ILogger& logger) noexcept;
}  // namespace nvonnxparser
