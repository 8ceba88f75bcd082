// COMPILE-CHECK STUB, not TensorRT: the subset of the TensorRT 10 C++ API (NvInferRuntime.h,
// NvInfer.h) that src/runner_tensorrt.cpp uses, with the documented signatures, so CI without
// TensorRT still type-checks that file. It proves nothing about TensorRT's behaviour. Never linked.
#pragma once
#include <cstddef>
#include <cstdint>
#include "NvInferVersion.h"
#include "cuda_runtime_api.h"

namespace nvinfer1 {
enum class DataType : int32_t { kFLOAT = 0, kHALF = 1, kINT8 = 2, kINT32 = 3, kBOOL = 4 };
class Dims64 {
public:
    static constexpr int32_t MAX_DIMS = 8;
    int32_t nbDims;
    int64_t d[MAX_DIMS];
};
using Dims = Dims64;
class Dims4 : public Dims {
public:
    Dims4(int64_t d0, int64_t d1, int64_t d2, int64_t d3);
};
class ILogger {
public:
    enum class Severity : int32_t { kINTERNAL_ERROR = 0, kERROR = 1, kWARNING = 2, kINFO = 3, kVERBOSE = 4 };
    virtual void log(Severity severity, char const* msg) noexcept = 0;
    virtual ~ILogger() = default;
};
class IHostMemory {
public:
    virtual ~IHostMemory() noexcept;
    void* data() const noexcept;
    std::size_t size() const noexcept;
};
class ITensor {
public:
    char const* getName() const noexcept;
    DataType getType() const noexcept;
    Dims getDimensions() const noexcept;
};
class ILayer {
public:
    char const* getName() const noexcept;
    int32_t getNbOutputs() const noexcept;
    ITensor* getOutput(int32_t index) const noexcept;
    void setPrecision(DataType dataType) noexcept;
    void setOutputType(int32_t index, DataType dataType) noexcept;
};
class INetworkDefinition {
public:
    virtual ~INetworkDefinition() noexcept;
    int32_t getNbLayers() const noexcept;
    ILayer* getLayer(int32_t index) const noexcept;
    int32_t getNbInputs() const noexcept;
    ITensor* getInput(int32_t index) const noexcept;
    int32_t getNbOutputs() const noexcept;
    ITensor* getOutput(int32_t index) const noexcept;
};
enum class OptProfileSelector : int32_t { kMIN = 0, kOPT = 1, kMAX = 2 };
class IOptimizationProfile {
public:
    bool setDimensions(char const* inputName, OptProfileSelector select, Dims const& dims) noexcept;
};
enum class MemoryPoolType : int32_t { kWORKSPACE = 0 };
enum class BuilderFlag : int32_t { kFP16 = 0, kINT8 = 1, kOBEY_PRECISION_CONSTRAINTS = 11 };
class ITimingCache {
public:
    virtual ~ITimingCache() noexcept;
    IHostMemory* serialize() const noexcept;
};
class IBuilderConfig {
public:
    virtual ~IBuilderConfig() noexcept;
    void setMemoryPoolLimit(MemoryPoolType pool, std::size_t poolSize) noexcept;
    int32_t addOptimizationProfile(IOptimizationProfile const* profile) noexcept;
    void setFlag(BuilderFlag builderFlag) noexcept;
    ITimingCache* createTimingCache(void const* blob, std::size_t size) const noexcept;
    bool setTimingCache(ITimingCache const& cache, bool ignoreMismatch) noexcept;
    ITimingCache const* getTimingCache() const noexcept;
};
enum class NetworkDefinitionCreationFlag : int32_t { kEXPLICIT_BATCH = 0, kSTRONGLY_TYPED = 1 };
class IBuilder {
public:
    virtual ~IBuilder() noexcept;
    INetworkDefinition* createNetworkV2(uint32_t flags) noexcept;
    IBuilderConfig* createBuilderConfig() noexcept;
    IOptimizationProfile* createOptimizationProfile() noexcept;
    IHostMemory* buildSerializedNetwork(INetworkDefinition& network, IBuilderConfig& config) noexcept;
};
enum class TensorIOMode : int32_t { kNONE = 0, kINPUT = 1, kOUTPUT = 2 };
class IExecutionContext {
public:
    virtual ~IExecutionContext() noexcept;
    bool setInputShape(char const* tensorName, Dims const& dims) noexcept;
    Dims getTensorShape(char const* tensorName) const noexcept;
    bool setTensorAddress(char const* tensorName, void* data) noexcept;
    bool enqueueV3(cudaStream_t stream) noexcept;
};
class ICudaEngine {
public:
    virtual ~ICudaEngine() noexcept;
    int32_t getNbIOTensors() const noexcept;
    char const* getIOTensorName(int32_t index) const noexcept;
    TensorIOMode getTensorIOMode(char const* tensorName) const noexcept;
    DataType getTensorDataType(char const* tensorName) const noexcept;
    Dims getProfileShape(char const* tensorName, int32_t profileIndex, OptProfileSelector select) const noexcept;
    IExecutionContext* createExecutionContext() noexcept;
};
class IRuntime {
public:
    virtual ~IRuntime() noexcept;
    ICudaEngine* deserializeCudaEngine(void const* blob, std::size_t size) noexcept;
    void setEngineHostCodeAllowed(bool allowed) noexcept;
};
IBuilder* createInferBuilder(ILogger& logger) noexcept;
IRuntime* createInferRuntime(ILogger& logger) noexcept;
}  // namespace nvinfer1
