// COMPILE-CHECK STUB, not TensorRT: the subset of the TensorRT C++ API (NvInferRuntimeBase.h /
// NvInferRuntimeCommon.h, NvInferLegacyDims.h, NvInferRuntime.h, NvInfer.h) that
// src/runner_tensorrt.cpp uses, with the signatures and enumerator values of each version
// NvInferVersion.h here selects (8.5.2, 8.6.1, 10.3.0, 10.16.0, 11.1.0; taken from NVIDIA/TensorRT
// at those tags), so CI without TensorRT type-checks that file against every branch it has. Only
// the enumerators the runner uses are listed, each with its real value. It proves nothing about
// TensorRT's behaviour. Never linked.
#pragma once
#include <cstddef>
#include <cstdint>
#include "NvInferVersion.h"
#include "cuda_runtime_api.h"

#define AGEGENDER_STUB_TRT_AT_LEAST(major, minor) \
    (NV_TENSORRT_MAJOR > (major) || (NV_TENSORRT_MAJOR == (major) && NV_TENSORRT_MINOR >= (minor)))
// TRT_DEPRECATED is [[deprecated]] in the real headers: deprecated uses warn here too
#define AGEGENDER_STUB_DEPRECATED [[deprecated]]

namespace nvinfer1 {

// ---- DataType: kFP8 in 8.6.1, + kBF16/kINT64/kINT4 in 10.3.0, + kFP4/kE8M0 in 10.16 -------------
enum class DataType : int32_t {
    kFLOAT = 0, kHALF = 1, kINT8 = 2, kINT32 = 3, kBOOL = 4, kUINT8 = 5,
#if AGEGENDER_STUB_TRT_AT_LEAST(8, 6)
    kFP8 = 6,
#endif
#if AGEGENDER_STUB_TRT_AT_LEAST(10, 0)
    kBF16 = 7, kINT64 = 8, kINT4 = 9,
#endif
#if AGEGENDER_STUB_TRT_AT_LEAST(10, 16)
    kFP4 = 10, kE8M0 = 11,
#endif
};

// ---- Dims: Dims32 (int32 extents) up to 8.x, Dims64 from 10.0 --------------------------------
#if AGEGENDER_STUB_TRT_AT_LEAST(10, 0)
class Dims64 {
public:
    static constexpr int32_t MAX_DIMS{8};
    int32_t nbDims;
    int64_t d[MAX_DIMS];
};
using Dims = Dims64;
using DimExtent = int64_t;
#else
class Dims32 {
public:
    static constexpr int32_t MAX_DIMS{8};
    int32_t nbDims;
    int32_t d[MAX_DIMS];
};
using Dims = Dims32;
using DimExtent = int32_t;
#endif
class Dims4 : public Dims {
public:
    Dims4(DimExtent d0, DimExtent d1, DimExtent d2, DimExtent d3);
};

class ILogger {
public:
    enum class Severity : int32_t { kINTERNAL_ERROR = 0, kERROR = 1, kWARNING = 2, kINFO = 3, kVERBOSE = 4 };
    virtual void log(Severity severity, char const* msg) noexcept = 0;
    virtual ~ILogger() = default;
};
class IHostMemory {
public:
    virtual ~IHostMemory() noexcept = default;
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
    // weak typing: deprecated (TRT_DEPRECATED) in 10.16, absent from 11.1 (strongly typed only)
#if NV_TENSORRT_MAJOR < 11
#if AGEGENDER_STUB_TRT_AT_LEAST(10, 16)
    AGEGENDER_STUB_DEPRECATED
#endif
    void setPrecision(DataType dataType) noexcept;
#if AGEGENDER_STUB_TRT_AT_LEAST(10, 16)
    AGEGENDER_STUB_DEPRECATED
#endif
    void setOutputType(int32_t index, DataType dataType) noexcept;
#endif
};
class INetworkDefinition {
public:
    virtual ~INetworkDefinition() noexcept = default;
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
#if AGEGENDER_STUB_TRT_AT_LEAST(10, 0)
    bool setDimensions(char const* inputName, OptProfileSelector select, Dims const& dims) noexcept;
#else
    bool setDimensions(char const* inputName, OptProfileSelector select, Dims dims) noexcept;
#endif
};
enum class MemoryPoolType : int32_t { kWORKSPACE = 0, kDLA_MANAGED_SRAM = 1, kDLA_LOCAL_DRAM = 2, kDLA_GLOBAL_DRAM = 3 };

// ---- BuilderFlag: 10.x values differ from 8.x (kSTRICT_TYPES gone); 11.1 has no kFP16, kINT8 or
// kOBEY_PRECISION_CONSTRAINTS (strongly typed networks only); deprecated in 10.16 --------------
#if NV_TENSORRT_MAJOR >= 11
enum class BuilderFlag : int32_t { kDEBUG = 2, kGPU_FALLBACK = 3, kREFIT = 4 };
#elif NV_TENSORRT_MAJOR == 10
#if AGEGENDER_STUB_TRT_AT_LEAST(10, 16)
enum class BuilderFlag : int32_t {
    kFP16 AGEGENDER_STUB_DEPRECATED = 0, kINT8 AGEGENDER_STUB_DEPRECATED = 1, kDEBUG = 2, kGPU_FALLBACK = 3, kREFIT = 4,
    kOBEY_PRECISION_CONSTRAINTS AGEGENDER_STUB_DEPRECATED = 9 };
#else
enum class BuilderFlag : int32_t { kFP16 = 0, kINT8 = 1, kDEBUG = 2, kGPU_FALLBACK = 3, kREFIT = 4,
                                   kOBEY_PRECISION_CONSTRAINTS = 9 };
#endif
#else  // 8.5, 8.6
enum class BuilderFlag : int32_t { kFP16 = 0, kINT8 = 1, kDEBUG = 2, kGPU_FALLBACK = 3, kREFIT = 5,
                                   kOBEY_PRECISION_CONSTRAINTS = 10 };
#endif

class ITimingCache {
public:
    virtual ~ITimingCache() noexcept = default;
    IHostMemory* serialize() const noexcept;
};
class IBuilderConfig {
public:
    virtual ~IBuilderConfig() noexcept = default;
    void setMemoryPoolLimit(MemoryPoolType pool, std::size_t poolSize) noexcept;
    int32_t addOptimizationProfile(IOptimizationProfile const* profile) noexcept;
    void setFlag(BuilderFlag builderFlag) noexcept;
    ITimingCache* createTimingCache(void const* blob, std::size_t size) const noexcept;
    bool setTimingCache(ITimingCache const& cache, bool ignoreMismatch) noexcept;
    ITimingCache const* getTimingCache() const noexcept;
};

// ---- NetworkDefinitionCreationFlag: kEXPLICIT_BATCH required on 8.x, deprecated on 10.x, absent
// from 11.1 (where kSTRONGLY_TYPED is 0, deprecated: always implied) ---------------------------
#if NV_TENSORRT_MAJOR >= 11
enum class NetworkDefinitionCreationFlag : int32_t { kSTRONGLY_TYPED AGEGENDER_STUB_DEPRECATED = 0 };
#elif NV_TENSORRT_MAJOR == 10
enum class NetworkDefinitionCreationFlag : int32_t { kEXPLICIT_BATCH AGEGENDER_STUB_DEPRECATED = 0, kSTRONGLY_TYPED = 1 };
#else
enum class NetworkDefinitionCreationFlag : int32_t { kEXPLICIT_BATCH = 0, kEXPLICIT_PRECISION AGEGENDER_STUB_DEPRECATED = 1 };
#endif
using NetworkDefinitionCreationFlags = uint32_t;

class IBuilder {
public:
    virtual ~IBuilder() noexcept = default;
    INetworkDefinition* createNetworkV2(NetworkDefinitionCreationFlags flags) noexcept;
    IBuilderConfig* createBuilderConfig() noexcept;
    IOptimizationProfile* createOptimizationProfile() noexcept;
    IHostMemory* buildSerializedNetwork(INetworkDefinition& network, IBuilderConfig& config) noexcept;
};
enum class TensorIOMode : int32_t { kNONE = 0, kINPUT = 1, kOUTPUT = 2 };
class IExecutionContext {
public:
    virtual ~IExecutionContext() noexcept = default;
    bool setInputShape(char const* tensorName, Dims const& dims) noexcept;
    Dims getTensorShape(char const* tensorName) const noexcept;
    bool setTensorAddress(char const* tensorName, void* data) noexcept;
    bool enqueueV3(cudaStream_t stream) noexcept;
};
#if AGEGENDER_STUB_TRT_AT_LEAST(10, 0)
enum class ExecutionContextAllocationStrategy : int32_t { kSTATIC = 0, kON_PROFILE_CHANGE = 1, kUSER_MANAGED = 2 };
#endif
class ICudaEngine {
public:
    virtual ~ICudaEngine() noexcept = default;
    int32_t getNbIOTensors() const noexcept;
    char const* getIOTensorName(int32_t index) const noexcept;
    TensorIOMode getTensorIOMode(char const* tensorName) const noexcept;
    DataType getTensorDataType(char const* tensorName) const noexcept;
    Dims getProfileShape(char const* tensorName, int32_t profileIndex, OptProfileSelector select) const noexcept;
#if AGEGENDER_STUB_TRT_AT_LEAST(10, 0)
    IExecutionContext* createExecutionContext(
        ExecutionContextAllocationStrategy strategy = ExecutionContextAllocationStrategy::kSTATIC) noexcept;
#else
    IExecutionContext* createExecutionContext() noexcept;
#endif
};
class IRuntime {
public:
    virtual ~IRuntime() noexcept = default;
    ICudaEngine* deserializeCudaEngine(void const* blob, std::size_t size) noexcept;
#if AGEGENDER_STUB_TRT_AT_LEAST(8, 6)
    void setEngineHostCodeAllowed(bool allowed) noexcept;   // from 8.6 (not in 8.5.2)
#endif
};
IBuilder* createInferBuilder(ILogger& logger) noexcept;
IRuntime* createInferRuntime(ILogger& logger) noexcept;
}  // namespace nvinfer1
