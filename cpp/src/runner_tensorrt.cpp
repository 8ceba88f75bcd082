// TensorRT backend (compiled only when TensorRT and CUDA are found; see cpp/CMakeLists.txt).
//
// Written against the documented TensorRT 8.5-10.x C++ API (named tensors: setInputShape,
// setTensorAddress, enqueueV3). NOT compiled or run in this project's CI (no GPU, no TensorRT
// there): see docs/CPP.md, "What is verified".
//
// Same files and rules as the Python backend (agegender_edge/backends/tensorrt.py, engine/*.py):
//  * ONNX input -> engine cache: <cache>/<stem>-fp16-<key[:16]>.engine with <engine>.json sidecar;
//    key = sha256 of json.dumps({onnx_sha256, tensorrt_version, gpu_name, compute_capability,
//    precision, profile{min,opt,max}, dla_core, sdk_engine_format}, sort_keys=True);
//    a cached engine is used only when its sidecar matches (key, TensorRT, GPU, ONNX and engine
//    sha256), else it is rebuilt (or a clear error when the cache is read-only).
//  * FP16 "builder-fp16" (BuilderFlag::kFP16) with the post-processing layers pinned to FP32
//    (engine/graph.py partition: everything downstream of Softmax/LogSoftmax/Log/Exp).
//  * .engine input: its sidecar must exist and match the engine bytes, this TensorRT and GPU.
//  * One CUDA stream, pinned host buffers and device buffers sized for the profile's max batch,
//    async H2D -> enqueueV3 -> D2H, one synchronise per chunk.
#include <NvInfer.h>
#include <NvInferVersion.h>
#include <NvOnnxParser.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "agegender_edge/errors.hpp"
#include "agegender_edge/onnx_model.hpp"
#include "agegender_edge/runner.hpp"
#include "engine_cache.hpp"
#include "protobuf.hpp"

#if NV_TENSORRT_MAJOR < 8 || (NV_TENSORRT_MAJOR == 8 && NV_TENSORRT_MINOR < 5)
#error "the TensorRT backend needs TensorRT 8.5 or newer (named-tensor API)"
#endif

namespace agegender_edge {

namespace {

using nlohmann::json;

// ---- small helpers -------------------------------------------------------------------------

class Logger final : public nvinfer1::ILogger {
public:
    void log(Severity severity, const char* msg) noexcept override {
        if (severity <= Severity::kWARNING) std::cerr << "TensorRT: " << msg << "\n";
    }
};
Logger& logger() {
    static Logger l;
    return l;
}

template <class T>
struct TrtDelete {
    void operator()(T* p) const noexcept { delete p; }  // TensorRT 8+: plain delete
};
template <class T>
using TrtPtr = std::unique_ptr<T, TrtDelete<T>>;

void cuda_check(cudaError_t e, const char* what) {
    if (e != cudaSuccess)
        throw BackendUnavailableError(std::string("CUDA ") + what + " failed: " + cudaGetErrorString(e));
}

std::string trt_version() {
    return std::to_string(NV_TENSORRT_MAJOR) + "." + std::to_string(NV_TENSORRT_MINOR) + "." +
           std::to_string(NV_TENSORRT_PATCH) + "." + std::to_string(NV_TENSORRT_BUILD);
}

struct GpuInfo {
    std::string name;
    std::string compute_capability;  // "8.7"
};

GpuInfo gpu_info(int device) {
    cudaDeviceProp prop{};
    cuda_check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    std::string name(prop.name, strnlen(prop.name, sizeof prop.name));
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
    while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.erase(name.begin());
    return {name, std::to_string(prop.major) + "." + std::to_string(prop.minor)};
}

std::vector<std::uint8_t> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ModelError(path + ": cannot open file");
    return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool is_file(const std::string& p) {
    struct stat st{};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

void mkdirs(const std::string& dir) {
    std::string cur;
    std::stringstream ss(dir);
    if (!dir.empty() && dir[0] == '/') cur = "/";
    for (std::string part; std::getline(ss, part, '/');) {
        if (part.empty()) continue;
        cur += part + "/";
        ::mkdir(cur.c_str(), 0755);
    }
}

bool writable_dir(std::string d) {
    while (!d.empty()) {
        struct stat st{};
        if (::stat(d.c_str(), &st) == 0) return S_ISDIR(st.st_mode) && ::access(d.c_str(), W_OK | X_OK) == 0;
        const auto slash = d.find_last_of('/');
        if (slash == std::string::npos) return ::access(".", W_OK | X_OK) == 0;
        d = slash == 0 ? "/" : d.substr(0, slash);
        if (d == "/") return ::access("/", W_OK | X_OK) == 0;
    }
    return false;
}

// Write via a temporary file in the same folder and rename (readers never see half a file).
[[maybe_unused]] void atomic_write(const std::string& path, const void* data, std::size_t size) {  // unused on 11.x (no build)
    const auto slash = path.find_last_of('/');
    mkdirs(slash == std::string::npos ? "." : path.substr(0, slash));
    const std::string tmp = path + ".tmp" + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary);
        out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
        if (!out) {
            std::remove(tmp.c_str());
            throw ModelError(path + ": cannot write");
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw ModelError(path + ": cannot write (rename failed)");
    }
}

// Post-processing node names and their output tensors (engine/graph.py partition): nodes
// downstream of Softmax/LogSoftmax/Log/Exp. Pinned to FP32 in the FP16 build.
[[maybe_unused]] std::set<std::string> postprocess_names(const std::vector<std::uint8_t>& model) {  // unused on 11.x
    struct N { std::string name; std::vector<std::string> in, out; std::string op; };
    std::vector<N> nodes;
    for (const auto& f : pb::parse(model.data(), model.size())) {
        if (f.number != 7 || f.wire != 2) continue;
        for (const auto& g : pb::parse(f.data, f.size)) {
            if (g.number != 1 || g.wire != 2) continue;
            N n;
            for (const auto& x : pb::parse(g.data, g.size)) {
                if (x.wire != 2) continue;
                if (x.number == 1) n.in.emplace_back(x.str());
                else if (x.number == 2) n.out.emplace_back(x.str());
                else if (x.number == 3) n.name = std::string(x.str());
                else if (x.number == 4) n.op = std::string(x.str());
            }
            nodes.push_back(std::move(n));
        }
    }
    std::set<std::string> tainted_tensors;
    std::set<std::size_t> post;
    for (bool changed = true; changed;) {
        changed = false;
        for (std::size_t i = 0; i < nodes.size(); ++i) {
            if (post.count(i)) continue;
            const N& n = nodes[i];
            bool hit = n.op == "Softmax" || n.op == "LogSoftmax" || n.op == "Log" || n.op == "Exp";
            for (const auto& t : n.in) hit = hit || tainted_tensors.count(t);
            if (!hit) continue;
            post.insert(i);
            tainted_tensors.insert(n.out.begin(), n.out.end());
            changed = true;
        }
    }
    std::set<std::string> names;
    for (std::size_t i : post) {
        if (!nodes[i].name.empty()) names.insert(nodes[i].name);
        names.insert(nodes[i].out.begin(), nodes[i].out.end());
    }
    return names;
}

float half_to_float(std::uint16_t h) {
    const std::uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
    std::uint32_t bits;
    if (exp == 0) {
        if (mant == 0) bits = sign;
        else {  // subnormal
            int e = -1;
            std::uint32_t m = mant;
            do { ++e; m <<= 1; } while (!(m & 0x400));
            bits = sign | ((127 - 15 - e) << 23) | ((m & 0x3FF) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

std::size_t dtype_size(nvinfer1::DataType t) {
    switch (t) {
        case nvinfer1::DataType::kFLOAT: return 4;
        case nvinfer1::DataType::kHALF: return 2;
        default: return 0;
    }
}

// ---- the runner --------------------------------------------------------------------------------

class TensorRtRunner final : public Runner {
public:
    TensorRtRunner(const std::string& path, const RunnerOptions& options) : options_(options) {
        cuda_check(cudaSetDevice(options.device), "cudaSetDevice");
        gpu_ = gpu_info(options.device);
        std::string lower = path;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        const bool engine = lower.size() > 4 && (lower.rfind(".engine") == lower.size() - 7 ||
                                                 lower.rfind(".plan") == lower.size() - 5 ||
                                                 lower.rfind(".trt") == lower.size() - 4);
        engine_path_ = engine ? path : resolve_from_onnx(path);
        load(engine_path_);
    }

    ~TensorRtRunner() override { free_buffers(); }

    const ModelMetadata& metadata() const override { return meta_; }
    int max_batch_size() const override { return profile_.max; }
    std::string describe() const override {
        return "tensorrt " + trt_version() + " [" + gpu_.name + ", cc " + gpu_.compute_capability + ", " + precision_path_ +
               ", batch " + std::to_string(profile_.min) + "-" + std::to_string(profile_.max) + ", " + engine_path_ + "]";
    }

    Outputs infer(const float* batch, int n) override {
        const std::size_t per_in = std::size_t(3) * meta_.input.height * meta_.input.width;
        Outputs o;
        o.n = n;
        std::vector<float>* dst[6] = {&o.gender, &o.age_group, &o.age_mean, &o.age_std, &o.age_bins, &o.embedding};
        for (int k = 0; k < n_out_; ++k) dst[k]->resize(std::size_t(n) * out_[k].row_elems);
        for (int s = 0; s < n; s += profile_.max) {
            const int rows = std::min(profile_.max, n - s);
            const int run = std::max(rows, profile_.min);  // static profiles: pad with zeros
            float* host_in = static_cast<float*>(in_.host);
            std::memcpy(host_in, batch + std::size_t(s) * per_in, std::size_t(rows) * per_in * sizeof(float));
            if (run > rows) std::memset(host_in + std::size_t(rows) * per_in, 0, std::size_t(run - rows) * per_in * sizeof(float));
            nvinfer1::Dims4 shape(run, 3, meta_.input.height, meta_.input.width);
            if (!context_->setInputShape(meta_.input.name.c_str(), shape))
                throw ModelError(engine_path_ + ": setInputShape(" + std::to_string(run) + ") failed");
            cuda_check(cudaMemcpyAsync(in_.dev, in_.host, std::size_t(run) * per_in * sizeof(float),
                                       cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync H2D");
            if (!context_->enqueueV3(stream_)) throw ModelError(engine_path_ + ": TensorRT enqueueV3 failed (see the TensorRT log)");
            for (int k = 0; k < n_out_; ++k) {
                const Buffer& b = out_[k];
                cuda_check(cudaMemcpyAsync(b.host, b.dev, std::size_t(run) * b.row_elems * b.elem_size,
                                           cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync D2H");
            }
            cuda_check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
            for (int k = 0; k < n_out_; ++k) {
                const Buffer& b = out_[k];
                float* d = dst[k]->data() + std::size_t(s) * b.row_elems;
                const std::size_t count = std::size_t(rows) * b.row_elems;
                if (b.elem_size == 4) std::memcpy(d, b.host, count * 4);
                else
                    for (std::size_t i = 0; i < count; ++i) d[i] = half_to_float(static_cast<const std::uint16_t*>(b.host)[i]);
            }
        }
        return o;
    }

private:
    struct Buffer {
        std::string name;
        void* host = nullptr;  // pinned
        void* dev = nullptr;
        std::size_t row_elems = 0, elem_size = 4;
    };

    std::string resolve_from_onnx(const std::string& onnx_path) {
        const OnnxModelFile model = read_onnx_file(onnx_path);
        const ModelMetadata meta = metadata_from_onnx(model);
        if (options_.verify_checksum) verify_weights(model, meta);
        check_io(model, meta);
        EngineCacheKey key;
        key.onnx_sha256 = sha256_hex(model.bytes.data(), model.bytes.size());
        key.tensorrt_version = normalise_tensorrt_version(trt_version());
        key.gpu_name = gpu_.name;
        key.compute_capability = gpu_.compute_capability;
        key.profile = {1, options_.max_batch_size, options_.max_batch_size};  // BatchProfile.for_max_batch
        const std::string dir = options_.engine_cache_dir.empty() ? default_engine_cache_dir() : options_.engine_cache_dir;
        const std::string digest = key.digest();
        const std::string path = engine_cache_path(dir, file_stem(onnx_path), key);
        const std::string why = invalid_reason(path, key, digest);
        if (why.empty()) return path;
        if (!writable_dir(dir))
            throw BackendUnavailableError("TensorRT engine cache " + dir + " is read-only and has no usable engine for " +
                                          file_stem(onnx_path) + " (" + why + "); pass --engine-cache <writable folder>");
        std::cerr << "agegender-edge: building TensorRT engine " << path << " (" << why
                  << "); this runs once per model, TensorRT and GPU\n";
        build(model, meta, key, digest, dir, path);
        return path;
    }

    std::string invalid_reason(const std::string& path, const EngineCacheKey& key, const std::string& digest) {
        if (!is_file(path)) return "no cached engine";
        json side;
        try {
            side = json::parse(read_file(path + ".json"));
            if (side.value("cache_key", std::string()) != digest) return "sidecar cache key differs";
            if (side.at("onnx_sha256").get<std::string>() != key.onnx_sha256) return "ONNX changed";
            if (!tensorrt_versions_match(side.at("tensorrt_version").get<std::string>(), key.tensorrt_version)) return "TensorRT changed";
            if (side.at("compute_capability").get<std::string>() != key.compute_capability) return "GPU changed";
            if (side.at("gpu_name").get<std::string>() != key.gpu_name) return "built on another GPU model";
            const auto blob = read_file(path);
            if (sha256_hex(blob.data(), blob.size()) != side.at("engine_sha256").get<std::string>())
                return "engine bytes do not match the sidecar sha256";
        } catch (const std::exception& e) {
            return std::string("sidecar unusable (") + e.what() + ")";
        }
        return "";
    }

    void build(const OnnxModelFile& model, const ModelMetadata& meta, const EngineCacheKey& key, const std::string& digest,
               const std::string& dir, const std::string& path) {
#if NV_TENSORRT_MAJOR >= 11
        (void)model; (void)meta; (void)key; (void)digest; (void)dir; (void)path;
        throw BackendUnavailableError("TensorRT 11 builds FP16 engines strongly typed only (no BuilderFlag::kFP16): build "
                                      "the engine with 'agegender-edge export --format engine' and pass the .engine");
#else
// Weak typing (BuilderFlag::kFP16, layer precisions) is deprecated in TensorRT 10.16 and gone in 11;
// below 11 it is still this builder's FP16 path (strongly typed FP16 needs the FP16 ONNX, which the
// Python exporter writes). The deprecation warnings are silenced for this block only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        TrtPtr<nvinfer1::IBuilder> builder(nvinfer1::createInferBuilder(logger()));
        if (!builder) throw BackendUnavailableError("TensorRT createInferBuilder failed");
        std::uint32_t flags = 0;
#if NV_TENSORRT_MAJOR < 10
        flags |= 1U << static_cast<std::uint32_t>(nvinfer1::NetworkDefinitionCreationFlag::kEXPLICIT_BATCH);
#endif
        TrtPtr<nvinfer1::INetworkDefinition> network(builder->createNetworkV2(flags));
        TrtPtr<nvonnxparser::IParser> parser(nvonnxparser::createParser(*network, logger()));
        if (!parser->parse(model.bytes.data(), model.bytes.size())) {
            std::string errors;
            for (int i = 0; i < parser->getNbErrors() && i < 5; ++i) errors += std::string("; ") + parser->getError(i)->desc();
            throw ModelError(model.path + ": TensorRT ONNX parser failed" + errors);
        }
        TrtPtr<nvinfer1::IBuilderConfig> config(builder->createBuilderConfig());
        const std::size_t workspace_mib = 1024;
        config->setMemoryPoolLimit(nvinfer1::MemoryPoolType::kWORKSPACE, workspace_mib << 20);
        nvinfer1::IOptimizationProfile* profile = builder->createOptimizationProfile();
        const int h = meta.input.height, w = meta.input.width;
        const char* in = meta.input.name.c_str();
        profile->setDimensions(in, nvinfer1::OptProfileSelector::kMIN, nvinfer1::Dims4(key.profile.min, 3, h, w));
        profile->setDimensions(in, nvinfer1::OptProfileSelector::kOPT, nvinfer1::Dims4(key.profile.opt, 3, h, w));
        profile->setDimensions(in, nvinfer1::OptProfileSelector::kMAX, nvinfer1::Dims4(key.profile.max, 3, h, w));
        config->addOptimizationProfile(profile);
        config->setFlag(nvinfer1::BuilderFlag::kFP16);
        config->setFlag(nvinfer1::BuilderFlag::kOBEY_PRECISION_CONSTRAINTS);
        const std::set<std::string> fp32 = postprocess_names(model.bytes);
        json pinned = json::array();
        for (int i = 0; i < network->getNbLayers(); ++i) {
            nvinfer1::ILayer* layer = network->getLayer(i);
            bool hit = fp32.count(layer->getName()) > 0;
            bool has_float = false;
            for (int k = 0; k < layer->getNbOutputs(); ++k) {
                nvinfer1::ITensor* t = layer->getOutput(k);
                if (!t) continue;
                hit = hit || fp32.count(t->getName()) > 0;
                has_float = has_float || t->getType() == nvinfer1::DataType::kFLOAT || t->getType() == nvinfer1::DataType::kHALF;
            }
            if (!hit || !has_float) continue;
            layer->setPrecision(nvinfer1::DataType::kFLOAT);
            for (int k = 0; k < layer->getNbOutputs(); ++k) {
                nvinfer1::ITensor* t = layer->getOutput(k);
                if (t && (t->getType() == nvinfer1::DataType::kFLOAT || t->getType() == nvinfer1::DataType::kHALF))
                    layer->setOutputType(k, nvinfer1::DataType::kFLOAT);
            }
            pinned.push_back(layer->getName());
        }
        const std::string timing_path = dir + "/timing.cache";
        std::vector<std::uint8_t> timing_blob;
        if (is_file(timing_path)) timing_blob = read_file(timing_path);
        TrtPtr<nvinfer1::ITimingCache> timing(config->createTimingCache(timing_blob.data(), timing_blob.size()));
        if (timing) config->setTimingCache(*timing, false);
        TrtPtr<nvinfer1::IHostMemory> serialized(builder->buildSerializedNetwork(*network, *config));
        if (!serialized || serialized->size() == 0)
            throw ModelError(model.path + ": TensorRT buildSerializedNetwork failed (see the TensorRT log above)");
        if (const nvinfer1::ITimingCache* tc = config->getTimingCache()) {
            TrtPtr<nvinfer1::IHostMemory> blob(tc->serialize());
            if (blob) atomic_write(timing_path, blob->data(), blob->size());
        }
        json io = json::object();
        auto dims_json = [](const nvinfer1::Dims& d) {
            json a = json::array();
            for (int k = 0; k < d.nbDims; ++k) a.push_back(d.d[k]);
            return a;
        };
        auto dtype_name = [](nvinfer1::DataType t) {
            return t == nvinfer1::DataType::kFLOAT ? "float32" : t == nvinfer1::DataType::kHALF ? "float16" : "other";
        };
        for (int i = 0; i < network->getNbInputs(); ++i) {
            auto* t = network->getInput(i);
            io[t->getName()] = {{"mode", "input"}, {"dtype", dtype_name(t->getType())}, {"shape", dims_json(t->getDimensions())}};
        }
        for (int i = 0; i < network->getNbOutputs(); ++i) {
            auto* t = network->getOutput(i);
            io[t->getName()] = {{"mode", "output"}, {"dtype", dtype_name(t->getType())}, {"shape", dims_json(t->getDimensions())}};
        }
        json metadata = json::parse(meta.source_json);
        metadata["precision"] = "fp16";
        char created[32];
        const std::time_t now = std::time(nullptr);
        std::strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
        const std::string onnx_name = model.path.substr(model.path.find_last_of('/') == std::string::npos ? 0 : model.path.find_last_of('/') + 1);
        json side = {
            {"metadata", metadata},
            {"build", {{"precision", "fp16"}, {"precision_path", "builder-fp16"},
                       {"profile", {{"min", key.profile.min}, {"opt", key.profile.opt}, {"max", key.profile.max}}},
                       {"workspace_mib", workspace_mib}, {"timing_cache", timing_path}, {"dla_core", nullptr},
                       {"gpu_fallback", true}, {"builder_optimization_level", nullptr}, {"fp32_layers", pinned},
                       {"recipe", nullptr}}},
            {"tensorrt_version", trt_version()},  // full; matched on major.minor.patch
            {"gpu_name", gpu_.name},
            {"compute_capability", gpu_.compute_capability},
            {"onnx_sha256", key.onnx_sha256},
            {"engine_sha256", sha256_hex(serialized->data(), serialized->size())},
            {"cache_key", digest},
            {"onnx_file", onnx_name},
            {"created_utc", created},
            {"io", io},
            {"format_version", kSidecarFormat},
        };
        // engine first, sidecar last: a sidecar only ever describes a complete engine
        std::remove((path + ".json").c_str());
        atomic_write(path, serialized->data(), serialized->size());
        const std::string text = side.dump(2);
        atomic_write(path + ".json", text.data(), text.size());
#pragma GCC diagnostic pop
#endif
    }

    void load(const std::string& path) {
        if (!is_file(path)) throw ModelError(path + ": engine file not found");
        const std::string side_path = path + ".json";
        if (!is_file(side_path))
            throw ModelFormatError(path + ": no sidecar " + side_path.substr(side_path.find_last_of('/') + 1) +
                                   " next to the engine; engines are only loaded with the sidecar written by "
                                   "'agegender-edge export --format engine' (it carries the model metadata)");
        json side;
        try {
            side = json::parse(read_file(side_path));
        } catch (const json::exception& e) {
            throw ModelFormatError(side_path + ": unreadable engine sidecar (" + e.what() + ")");
        }
        if (!side.is_object()) throw ModelFormatError(side_path + ": engine sidecar is not a JSON object");
        const std::vector<std::uint8_t> blob = read_file(path);
        try {
            const int version = side.value("format_version", -1);
            if (version > kSidecarFormat || version < 1)
                throw ModelFormatError(side_path + ": engine sidecar format " + std::to_string(version) + " not supported");
            meta_ = ModelMetadata::from_json(side.at("metadata").dump(), side_path);
            std::vector<std::string> why;
            const std::string v = side.at("tensorrt_version").get<std::string>();
            if (!tensorrt_versions_match(v, trt_version())) why.push_back("built with TensorRT " + v + ", running " + trt_version());
            const std::string cc = side.at("compute_capability").get<std::string>();
            if (cc != gpu_.compute_capability)
                why.push_back("built for compute capability " + cc + ", this GPU is " + gpu_.compute_capability);
            if (sha256_hex(blob.data(), blob.size()) != side.at("engine_sha256").get<std::string>())
                why.push_back("engine bytes do not match the sha256 in the sidecar (file replaced or corrupted)");
            if (!why.empty()) {
                std::string all;
                for (const auto& w : why) all += (all.empty() ? "" : "; ") + w;
                throw ModelError(path + ": engine cannot be used here: " + all +
                                 " (rebuild it: agegender-edge export --onnx MODEL.onnx --format engine)");
            }
            if (side.at("gpu_name").get<std::string>() != gpu_.name)
                std::cerr << "agegender-edge: engine " << path << " was built on '" << side.at("gpu_name").get<std::string>()
                          << "', running on '" << gpu_.name << "' (same compute capability)\n";
            precision_path_ = side.at("build").value("precision_path", side.at("build").value("precision", std::string("?")));
        } catch (const json::exception& e) {
            throw ModelFormatError(side_path + ": malformed engine sidecar (" + e.what() + ")");
        }
        runtime_.reset(nvinfer1::createInferRuntime(logger()));
        if (!runtime_) throw BackendUnavailableError("TensorRT createInferRuntime failed");
#if AGEGENDER_EDGE_TRT_HAS_HOST_CODE_SWITCH(NV_TENSORRT_MAJOR, NV_TENSORRT_MINOR)  // 8.6+, engine_cache.hpp
        runtime_->setEngineHostCodeAllowed(false);  // an engine from elsewhere cannot bring code
#endif
        engine_.reset(runtime_->deserializeCudaEngine(blob.data(), blob.size()));
        if (!engine_) throw ModelError(path + ": TensorRT could not deserialize the engine");
        std::set<std::string> names;
        for (int i = 0; i < engine_->getNbIOTensors(); ++i) names.insert(engine_->getIOTensorName(i));
        const char* in = meta_.input.name.c_str();
        if (!names.count(meta_.input.name) || engine_->getTensorIOMode(in) != nvinfer1::TensorIOMode::kINPUT)
            throw ModelFormatError(path + ": engine has no input '" + meta_.input.name + "'");
        for (const char* o : kOutputNames)
            if (!names.count(o)) throw ModelFormatError(path + ": engine lacks output '" + std::string(o) + "'");
        // the descriptor: every output of an engine must have an address, so it is bound whenever
        // the metadata (sidecar) describes it
        if (meta_.embedding_dim > 0 && !names.count(kOutputEmbedding))
            throw ModelFormatError(path + ": engine lacks output 'embedding' (the metadata describes it)");
        n_out_ = meta_.embedding_dim > 0 ? 6 : 5;
        const nvinfer1::Dims mn = engine_->getProfileShape(in, 0, nvinfer1::OptProfileSelector::kMIN);
        const nvinfer1::Dims op = engine_->getProfileShape(in, 0, nvinfer1::OptProfileSelector::kOPT);
        const nvinfer1::Dims mx = engine_->getProfileShape(in, 0, nvinfer1::OptProfileSelector::kMAX);
        if (mx.nbDims != 4 || mx.d[1] != 3 || mx.d[2] != meta_.input.height || mx.d[3] != meta_.input.width)
            throw ModelFormatError(path + ": engine input does not match metadata size " + std::to_string(meta_.input.height) +
                                   "x" + std::to_string(meta_.input.width));
        profile_ = {static_cast<int>(mn.d[0]), static_cast<int>(op.d[0]), static_cast<int>(mx.d[0])};
        if (engine_->getTensorDataType(in) != nvinfer1::DataType::kFLOAT)
            throw ModelFormatError(path + ": engine input is not float32");
        context_.reset(engine_->createExecutionContext());
        if (!context_) throw BackendUnavailableError(path + ": TensorRT could not create an execution context (GPU memory?)");
        if (!context_->setInputShape(in, mx)) throw ModelError(path + ": setInputShape at the profile max failed");
        cuda_check(cudaStreamCreate(&stream_), "cudaStreamCreate");
        try {
            const std::size_t in_bytes = std::size_t(profile_.max) * 3 * meta_.input.height * meta_.input.width * sizeof(float);
            in_.name = meta_.input.name;
            cuda_check(cudaMallocHost(&in_.host, in_bytes), "cudaMallocHost");
            cuda_check(cudaMalloc(&in_.dev, in_bytes), "cudaMalloc");
            if (!context_->setTensorAddress(in, in_.dev)) throw ModelError(path + ": setTensorAddress(input) failed");
            for (int k = 0; k < n_out_; ++k) {
                Buffer& b = out_[k];
                b.name = k < 5 ? kOutputNames[k] : kOutputEmbedding;
                const nvinfer1::Dims d = context_->getTensorShape(b.name.c_str());
                std::size_t row = 1;
                for (int j = 1; j < d.nbDims; ++j) {
                    if (d.d[j] < 0) throw ModelFormatError(path + ": cannot size output " + b.name);
                    row *= static_cast<std::size_t>(d.d[j]);
                }
                b.row_elems = row;
                b.elem_size = dtype_size(engine_->getTensorDataType(b.name.c_str()));
                if (b.elem_size == 0) throw ModelFormatError(path + ": output " + b.name + " is neither float32 nor float16");
                const std::size_t bytes = std::size_t(profile_.max) * row * b.elem_size;
                cuda_check(cudaMallocHost(&b.host, bytes), "cudaMallocHost");
                cuda_check(cudaMalloc(&b.dev, bytes), "cudaMalloc");
                if (!context_->setTensorAddress(b.name.c_str(), b.dev)) throw ModelError(path + ": setTensorAddress failed");
            }
            const std::size_t want[6] = {meta_.gender_labels.size(), meta_.age_groups.size(), 1, 1, meta_.age_bins.size(),
                                         static_cast<std::size_t>(meta_.embedding_dim)};
            for (int k = 0; k < n_out_; ++k)
                if (out_[k].row_elems != want[k])
                    throw ModelFormatError(path + ": output '" + out_[k].name + "' has " + std::to_string(out_[k].row_elems) +
                                           " values per face but the metadata lists " + std::to_string(want[k]));
        } catch (...) {
            free_buffers();
            throw;
        }
    }

    void free_buffers() noexcept {
        for (Buffer* b : {&in_, &out_[0], &out_[1], &out_[2], &out_[3], &out_[4], &out_[5]}) {
            if (b->dev) cudaFree(b->dev);
            if (b->host) cudaFreeHost(b->host);
            b->dev = b->host = nullptr;
        }
        if (stream_) cudaStreamDestroy(stream_);
        stream_ = nullptr;
    }

    RunnerOptions options_;
    GpuInfo gpu_;
    std::string engine_path_, precision_path_;
    ModelMetadata meta_;
    BatchProfile profile_;
    TrtPtr<nvinfer1::IRuntime> runtime_;
    TrtPtr<nvinfer1::ICudaEngine> engine_;
    TrtPtr<nvinfer1::IExecutionContext> context_;
    cudaStream_t stream_ = nullptr;
    Buffer in_;
    Buffer out_[6];     // the five outputs, then the descriptor when the model has one
    int n_out_ = 5;
};

}  // namespace

bool tensorrt_device_available(int device, std::string* why) {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        if (why) *why = std::string("no usable CUDA driver/device (") + cudaGetErrorString(e) + ")";
        return false;
    }
    if (device >= count) {
        if (why) *why = "CUDA device " + std::to_string(device) + " not found (" + std::to_string(count) + " device(s))";
        return false;
    }
    return true;
}

std::unique_ptr<Runner> create_tensorrt_runner(const std::string& model_path, const RunnerOptions& options) {
    return std::make_unique<TensorRtRunner>(model_path, options);
}

}  // namespace agegender_edge
