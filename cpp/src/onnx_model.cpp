#include "agegender_edge/onnx_model.hpp"

#include <algorithm>
#include <cfloat>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sys/stat.h>
#include <unordered_map>

#include "agegender_edge/errors.hpp"
#include "protobuf.hpp"
#include "sha256.hpp"

namespace agegender_edge {

namespace {

// ModelProto / GraphProto / NodeProto / TensorProto / AttributeProto field numbers (onnx.proto3).
constexpr std::uint32_t kModelGraph = 7, kModelMetadataProps = 14;
constexpr std::uint32_t kEntryKey = 1, kEntryValue = 2;
constexpr std::uint32_t kGraphNode = 1, kGraphInitializer = 5, kGraphInput = 11, kGraphOutput = 12;
constexpr std::uint32_t kNodeInput = 1, kNodeOutput = 2, kNodeName = 3, kNodeOpType = 4, kNodeAttribute = 5,
                        kNodeDomain = 7;
constexpr std::uint32_t kAttrName = 1, kAttrF = 2, kAttrI = 3, kAttrT = 5, kAttrType = 20;
constexpr std::uint32_t kTensorDims = 1, kTensorDataType = 2, kTensorFloatData = 4, kTensorInt32Data = 5,
                        kTensorInt64Data = 7, kTensorName = 8, kTensorRawData = 9;
constexpr int kFloat = 1, kInt32 = 6, kInt64 = 7;
constexpr int kAttrTypeFloat = 1, kAttrTypeInt = 2;

std::vector<std::uint8_t> read_file_bytes(const std::string& path) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) throw ModelError(path + ": model file not found");
    if (!S_ISREG(st.st_mode)) throw ModelError(path + ": model path is not a file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ModelError(path + ": cannot open model file");
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(st.st_size));
    if (!bytes.empty() && !in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())))
        throw ModelError(path + ": cannot read model file");
    if (bytes.empty()) throw ModelError(path + ": model file is empty");
    return bytes;
}

const pb::Field* last_field(const std::vector<pb::Field>& fields, std::uint32_t number, std::uint32_t wire) {
    const pb::Field* out = nullptr;
    for (const auto& f : fields)
        if (f.number == number && f.wire == wire) out = &f;
    return out;
}

std::string string_field(const std::vector<pb::Field>& fields, std::uint32_t number) {
    const pb::Field* f = last_field(fields, number, 2);
    return f ? std::string(f->str()) : std::string();
}

// ---- graph rewriting -----------------------------------------------------------------------

struct Node {
    pb::Field field;                      // the original encoded node
    std::vector<std::string> inputs, outputs;
    std::string name, op_type, domain;
    std::vector<pb::Field> attributes;    // raw AttributeProto fields
    std::optional<std::vector<std::uint8_t>> replacement;  // re-encoded node
    bool inputs_renamed = false;                           // re-encode with `inputs`
    bool removed = false;
};

// The node's original fields with its inputs replaced by `n.inputs`.
std::vector<std::uint8_t> encode_with_inputs(const Node& n) {
    pb::Writer w;
    bool inputs_written = false;
    for (const auto& f : pb::parse(n.field.data, n.field.size)) {
        if (f.number == kNodeInput && f.wire == 2) {
            if (!inputs_written)
                for (const auto& in : n.inputs) w.field_bytes(kNodeInput, in);
            inputs_written = true;
            continue;
        }
        w.raw(f);
    }
    return w.out;
}

struct ConstTensor {
    std::vector<std::int64_t> dims;
    std::vector<double> values;
};

std::optional<ConstTensor> decode_tensor(const std::uint8_t* data, std::size_t size, std::size_t max_values = 64) {
    const auto fields = pb::parse(data, size);
    ConstTensor t;
    t.dims = pb::int64s(fields, kTensorDims);
    const pb::Field* dt = last_field(fields, kTensorDataType, 0);
    if (!dt) return std::nullopt;
    const int type = static_cast<int>(dt->varint);
    std::int64_t count = 1;
    for (auto d : t.dims) {
        if (d < 0 || d > 1 << 20) return std::nullopt;
        count *= d;
    }
    if (count > static_cast<std::int64_t>(max_values)) return std::nullopt;
    if (const pb::Field* raw = last_field(fields, kTensorRawData, 2)) {
        const std::size_t elem = type == kInt64 ? 8 : (type == kFloat || type == kInt32) ? 4 : 0;
        if (elem == 0 || raw->size != static_cast<std::size_t>(count) * elem) return std::nullopt;
        for (std::int64_t i = 0; i < count; ++i) {
            const std::uint8_t* p = raw->data + i * elem;
            if (type == kInt64) { std::int64_t v; std::memcpy(&v, p, 8); t.values.push_back(double(v)); }
            else if (type == kInt32) { std::int32_t v; std::memcpy(&v, p, 4); t.values.push_back(double(v)); }
            else { float v; std::memcpy(&v, p, 4); t.values.push_back(double(v)); }
        }
    } else if (type == kInt64) {
        for (auto v : pb::int64s(fields, kTensorInt64Data)) t.values.push_back(double(v));
    } else if (type == kInt32) {
        for (auto v : pb::int64s(fields, kTensorInt32Data)) t.values.push_back(double(std::int32_t(v)));
    } else if (type == kFloat) {
        for (const auto& f : fields) {
            if (f.number != kTensorFloatData) continue;
            if (f.wire == 5) { float v; std::memcpy(&v, f.data, 4); t.values.push_back(v); }
            else if (f.wire == 2 && f.size % 4 == 0)
                for (std::size_t i = 0; i < f.size; i += 4) { float v; std::memcpy(&v, f.data + i, 4); t.values.push_back(v); }
        }
    } else {
        return std::nullopt;
    }
    if (static_cast<std::int64_t>(t.values.size()) != count) return std::nullopt;
    return t;
}

std::vector<std::uint8_t> encode_node(const Node& n, const std::string& op_type, const std::vector<std::string>& inputs,
                                      const std::vector<std::string>& outputs,
                                      const std::vector<std::pair<std::string, float>>& float_attrs,
                                      const std::vector<std::pair<std::string, std::int64_t>>& int_attrs) {
    pb::Writer w;
    for (const auto& s : inputs) w.field_bytes(kNodeInput, s);
    for (const auto& s : outputs) w.field_bytes(kNodeOutput, s);
    w.field_bytes(kNodeName, n.name);
    w.field_bytes(kNodeOpType, op_type);
    for (const auto& [name, value] : float_attrs) {
        pb::Writer a;
        a.field_bytes(kAttrName, name);
        a.field_float(kAttrF, value);
        a.field_varint(kAttrType, kAttrTypeFloat);
        w.field_bytes(kNodeAttribute, a.out);
    }
    for (const auto& [name, value] : int_attrs) {
        pb::Writer a;
        a.field_bytes(kAttrName, name);
        a.field_varint(kAttrI, static_cast<std::uint64_t>(value));
        a.field_varint(kAttrType, kAttrTypeInt);
        w.field_bytes(kNodeAttribute, a.out);
    }
    if (!n.domain.empty()) w.field_bytes(kNodeDomain, n.domain);
    return w.out;
}

std::optional<std::int64_t> int_attribute(const Node& n, const std::string& name) {
    for (const auto& a : n.attributes) {
        const auto fields = pb::parse(a.data, a.size);
        if (string_field(fields, kAttrName) != name) continue;
        if (const pb::Field* i = last_field(fields, kAttrI, 0)) return static_cast<std::int64_t>(i->varint);
    }
    return std::nullopt;
}

}  // namespace

OnnxModelFile parse_onnx_bytes(std::vector<std::uint8_t> bytes, const std::string& source) {
    OnnxModelFile model;
    model.path = source;
    model.bytes = std::move(bytes);
    std::vector<pb::Field> fields;
    try {
        fields = pb::parse(model.bytes.data(), model.bytes.size());
    } catch (const ModelError& e) {
        throw ModelError(source + ": not an ONNX model (" + e.what() + ")");
    }
    bool has_graph = false;
    for (const auto& f : fields) {
        if (f.number == kModelGraph && f.wire == 2) has_graph = true;
        if (f.number == kModelMetadataProps && f.wire == 2) {
            try {
                const auto entry = pb::parse(f.data, f.size);
                model.metadata_props[string_field(entry, kEntryKey)] = string_field(entry, kEntryValue);
            } catch (const ModelError& e) {
                throw ModelError(source + ": not an ONNX model (metadata_props: " + e.what() + ")");
            }
        }
    }
    if (!has_graph) throw ModelError(source + ": not an ONNX model (no graph in the file)");
    try {
        const pb::Field* graph = last_field(fields, kModelGraph, 2);
        const auto gf = pb::parse(graph->data, graph->size);
        std::set<std::string> init_names;
        for (const auto& g : gf)
            if (g.number == kGraphInitializer && g.wire == 2) init_names.insert(string_field(pb::parse(g.data, g.size), kTensorName));
        for (const auto& g : gf) {
            if (g.wire != 2 || (g.number != kGraphInput && g.number != kGraphOutput)) continue;
            const auto vi = pb::parse(g.data, g.size);
            const std::string name = string_field(vi, 1);
            if (g.number == kGraphOutput) { model.outputs.push_back(name); continue; }
            if (init_names.count(name)) continue;
            std::vector<std::int64_t> dims;
            // ValueInfoProto.type(2) -> TypeProto.tensor_type(1) -> shape(2) -> dim(1) -> dim_value(1)
            if (const pb::Field* type = last_field(vi, 2, 2)) {
                const auto tp = pb::parse(type->data, type->size);
                if (const pb::Field* tensor = last_field(tp, 1, 2)) {
                    const auto tt = pb::parse(tensor->data, tensor->size);
                    if (const pb::Field* shape = last_field(tt, 2, 2)) {
                        for (const auto& dim : pb::parse(shape->data, shape->size)) {
                            if (dim.number != 1 || dim.wire != 2) continue;
                            const auto dim_fields = pb::parse(dim.data, dim.size);
                            const pb::Field* value = last_field(dim_fields, 1, 0);
                            dims.push_back(value ? static_cast<std::int64_t>(value->varint) : -1);
                        }
                    }
                }
            }
            model.inputs.emplace_back(name, dims);
        }
    } catch (const ModelError& e) {
        throw ModelError(source + ": not an ONNX model (graph: " + e.what() + ")");
    }
    return model;
}

OnnxModelFile read_onnx_file(const std::string& path) { return parse_onnx_bytes(read_file_bytes(path), path); }

ModelMetadata metadata_from_onnx(const OnnxModelFile& model) {
    auto it = model.metadata_props.find(kMetadataKey);
    if (it == model.metadata_props.end())
        throw ModelFormatError(model.path + ": ONNX model has no '" + std::string(kMetadataKey) +
                               "' metadata (not exported by agegender-edge)");
    return ModelMetadata::from_json(it->second, model.path);
}

void check_io(const OnnxModelFile& model, const ModelMetadata& meta) {
    const std::vector<std::int64_t>* dims = nullptr;
    std::string names;
    for (const auto& [name, d] : model.inputs) {
        names += (names.empty() ? "" : ", ") + name;
        if (name == meta.input.name) dims = &d;
    }
    if (!dims)
        throw ModelFormatError(model.path + ": model has no input named '" + meta.input.name + "' (has " + names + ")");
    const auto& d = *dims;
    if (d.size() != 4 || (d[1] >= 0 && d[1] != 3) || (d[2] >= 0 && d[2] != meta.input.height) ||
        (d[3] >= 0 && d[3] != meta.input.width))
        throw ModelFormatError(model.path + ": input shape does not match metadata size " +
                               std::to_string(meta.input.height) + "x" + std::to_string(meta.input.width));
    std::string missing;
    for (const char* out : kOutputNames)
        if (std::find(model.outputs.begin(), model.outputs.end(), out) == model.outputs.end())
            missing += (missing.empty() ? "" : ", ") + std::string(out);
    if (meta.embedding_dim > 0 &&
        std::find(model.outputs.begin(), model.outputs.end(), kOutputEmbedding) == model.outputs.end())
        missing += (missing.empty() ? "" : ", ") + std::string(kOutputEmbedding) + " (the metadata describes it)";
    if (!missing.empty()) throw ModelFormatError(model.path + ": model lacks output(s) " + missing);
}

std::string initializer_digest(const std::vector<std::uint8_t>& model_bytes) {
    Sha256 h;
    std::size_t count = 0;
    for (const auto& f : pb::parse(model_bytes.data(), model_bytes.size())) {
        if (f.number != kModelGraph || f.wire != 2) continue;
        for (const auto& g : pb::parse(f.data, f.size)) {
            if (g.number != kGraphInitializer || g.wire != 2) continue;
            std::uint8_t len[8];
            for (int i = 0; i < 8; ++i) len[i] = static_cast<std::uint8_t>(std::uint64_t(g.size) >> (8 * i));
            h.update(len, 8);
            h.update(g.data, g.size);
            ++count;
        }
    }
    if (count == 0) throw ModelError("ONNX graph has no initializers (not a trained model, or truncated)");
    return h.hexdigest();
}

void verify_weights(const OnnxModelFile& model, const ModelMetadata& meta) {
    if (!meta.weights_sha256) return;
    std::string digest;
    try {
        digest = initializer_digest(model.bytes);
    } catch (const ModelError& e) {
        throw ModelIntegrityError(model.path + ": " + e.what());
    }
    if (digest != *meta.weights_sha256)
        throw ModelIntegrityError(model.path + ": weights checksum " + digest.substr(0, 12) +
                                  "... does not match the recorded " + meta.weights_sha256->substr(0, 12) +
                                  "... (file altered or corrupted)");
}

std::vector<std::uint8_t> rewrite_for_opencv_dnn(const std::vector<std::uint8_t>& model_bytes, int input_width,
                                                 std::vector<std::string>* applied, std::string* embedding_features) {
    auto note = [&](const std::string& s) { if (applied) applied->push_back(s); };
    const auto model_fields = pb::parse(model_bytes.data(), model_bytes.size());
    const pb::Field* graph_field = last_field(model_fields, kModelGraph, 2);
    if (!graph_field) throw ModelError("not an ONNX model (no graph)");
    const auto graph_fields = pb::parse(graph_field->data, graph_field->size);

    std::vector<Node> nodes;
    std::unordered_map<std::string, ConstTensor> consts;   // small constant tensors by name
    std::unordered_map<std::string, const pb::Field*> initializers;
    std::unordered_map<std::string, std::size_t> producer;  // tensor -> node index
    std::set<std::string> graph_outputs;
    for (const auto& g : graph_fields) {
        if (g.number == kGraphNode && g.wire == 2) {
            Node n;
            n.field = g;
            const auto nf = pb::parse(g.data, g.size);
            for (const auto& f : nf) {
                if (f.wire != 2) continue;
                if (f.number == kNodeInput) n.inputs.emplace_back(f.str());
                else if (f.number == kNodeOutput) n.outputs.emplace_back(f.str());
                else if (f.number == kNodeName) n.name = std::string(f.str());
                else if (f.number == kNodeOpType) n.op_type = std::string(f.str());
                else if (f.number == kNodeDomain) n.domain = std::string(f.str());
                else if (f.number == kNodeAttribute) n.attributes.push_back(f);
            }
            if (n.op_type == "Constant" && n.outputs.size() == 1) {
                for (const auto& a : n.attributes) {
                    const auto af = pb::parse(a.data, a.size);
                    const pb::Field* t = last_field(af, kAttrT, 2);
                    if (string_field(af, kAttrName) == "value" && t)
                        if (auto v = decode_tensor(t->data, t->size)) consts[n.outputs[0]] = *v;
                }
            }
            for (std::size_t k = 0; k < n.outputs.size(); ++k) producer[n.outputs[k]] = nodes.size();
            nodes.push_back(std::move(n));
        } else if (g.number == kGraphInitializer && g.wire == 2) {
            const auto tf = pb::parse(g.data, g.size);
            const std::string name = string_field(tf, kTensorName);
            initializers[name] = &g;
            if (auto v = decode_tensor(g.data, g.size)) consts[name] = *v;
        } else if (g.number == kGraphOutput && g.wire == 2) {
            graph_outputs.insert(string_field(pb::parse(g.data, g.size), 1));
        }
    }
    // Identity of an initializer (the exporter's deduplicated constants): OpenCV 4.6 cannot run a
    // layer without non-constant inputs, so consumers read the initializer directly.
    std::unordered_map<std::string, std::string> rename;
    for (const auto& n : nodes)
        if (n.op_type == "Identity" && n.inputs.size() == 1 && n.outputs.size() == 1 &&
            initializers.count(n.inputs[0]) && !graph_outputs.count(n.outputs[0]))
            rename[n.outputs[0]] = n.inputs[0];
    if (!rename.empty()) {
        for (auto& n : nodes)
            for (auto& in : n.inputs) {
                auto it = rename.find(in);
                if (it != rename.end()) { in = it->second; n.inputs_renamed = true; }
            }
        for (const auto& [from, to] : rename)
            if (consts.count(to)) consts[from] = consts[to];
        note(std::to_string(rename.size()) + " Identity node(s) of initializers bypassed");
    }
    auto const_of = [&](const Node& n, std::size_t i) -> const ConstTensor* {
        if (i >= n.inputs.size() || n.inputs[i].empty()) return nullptr;
        auto it = consts.find(n.inputs[i]);
        return it == consts.end() ? nullptr : &it->second;
    };
    auto is_scalar = [](const ConstTensor* t, double v) { return t && t->values.size() == 1 && t->values[0] == v; };
    auto producer_of = [&](const std::string& tensor, const char* op) -> Node* {
        auto it = producer.find(tensor);
        if (it == producer.end() || nodes[it->second].op_type != op) return nullptr;
        return &nodes[it->second];
    };

    std::vector<std::vector<std::uint8_t>> new_initializers;
    bool flip_matrix_added = false;
    const std::string flip_name = "agegender_edge_opencv/flip_w";

    // batch-halving Slice pairs: data tensor -> (first-half node, second-half node)
    std::unordered_map<std::string, std::pair<Node*, Node*>> halves;
    // n of "x[:n]" / "x[n:]" must be Unsqueeze(Gather(Shape(T), 0)) with Concat([T, flip(T)], axis 0)
    auto is_half_batch = [&](const std::string& tensor, const std::string& data) -> std::string {
        Node* unsq = producer_of(tensor, "Unsqueeze");
        if (!unsq || unsq->inputs.empty()) return {};
        Node* gather = producer_of(unsq->inputs[0], "Gather");
        if (!gather || gather->inputs.size() != 2 || !is_scalar(const_of(*gather, 1), 0.0)) return {};
        if (int_attribute(*gather, "axis").value_or(0) != 0) return {};
        Node* shape = producer_of(gather->inputs[0], "Shape");
        if (!shape || shape->inputs.size() != 1) return {};
        // data must descend from Concat([T, *], axis 0) with T the tensor whose batch is n: accept
        // when some Concat of exactly two inputs along axis 0 starts with T.
        for (const auto& c : nodes)
            if (c.op_type == "Concat" && c.inputs.size() == 2 && c.inputs[0] == shape->inputs[0] &&
                int_attribute(c, "axis").value_or(-99) == 0)
                return gather->outputs[0];
        (void)data;
        return {};
    };

    for (auto& n : nodes) {
        if (n.op_type == "Clip" && n.inputs.size() > 1) {
            const ConstTensor* mn = const_of(n, 1);
            const ConstTensor* mx = const_of(n, 2);
            const bool has_min = n.inputs.size() > 1 && !n.inputs[1].empty();
            const bool has_max = n.inputs.size() > 2 && !n.inputs[2].empty();
            if ((has_min && (!mn || mn->values.size() != 1)) || (has_max && (!mx || mx->values.size() != 1))) continue;
            const float lo = has_min ? static_cast<float>(mn->values[0]) : -FLT_MAX;
            const float hi = has_max ? static_cast<float>(mx->values[0]) : FLT_MAX;
            n.replacement = encode_node(n, "Clip", {n.inputs[0]}, n.outputs, {{"min", lo}, {"max", hi}}, {});
            note("Clip '" + n.name + "': constant min/max inputs -> attributes");
        } else if (n.op_type == "Slice" && n.inputs.size() >= 4) {
            const ConstTensor* starts = const_of(n, 1);
            const ConstTensor* ends = const_of(n, 2);
            const ConstTensor* axes = const_of(n, 3);
            const ConstTensor* steps = n.inputs.size() > 4 ? const_of(n, 4) : nullptr;
            const bool unit_steps = n.inputs.size() <= 4 || n.inputs[4].empty() || is_scalar(steps, 1.0);
            if (is_scalar(steps, -1.0) && axes && axes->values.size() == 1 &&
                (axes->values[0] == 3 || axes->values[0] == -1) && is_scalar(starts, -1.0) && ends &&
                ends->values.size() == 1 && ends->values[0] <= -(input_width + 1.0) && input_width > 0) {
                if (!flip_matrix_added) {
                    const int w = input_width;
                    std::vector<float> J(static_cast<std::size_t>(w) * w, 0.0f);
                    for (int i = 0; i < w; ++i) J[static_cast<std::size_t>(i) * w + (w - 1 - i)] = 1.0f;
                    pb::Writer t;
                    t.field_varint(kTensorDims, static_cast<std::uint64_t>(w));
                    t.field_varint(kTensorDims, static_cast<std::uint64_t>(w));
                    t.field_varint(kTensorDataType, kFloat);
                    t.field_bytes(kTensorName, flip_name);
                    t.field_bytes(kTensorRawData, J.data(), J.size() * sizeof(float));
                    new_initializers.push_back(std::move(t.out));
                    flip_matrix_added = true;
                }
                n.replacement = encode_node(n, "MatMul", {n.inputs[0], flip_name}, n.outputs, {}, {});
                note("Slice '" + n.name + "': width reversal (step -1) -> MatMul with the " +
                     std::to_string(input_width) + "x" + std::to_string(input_width) + " exchange matrix");
            } else if (unit_steps && axes && is_scalar(axes, 0.0)) {
                auto& pair = halves[n.inputs[0]];
                if (is_scalar(starts, 0.0) && !ends) {
                    if (!is_half_batch(n.inputs[2], n.inputs[0]).empty()) pair.first = &n;
                } else if (!starts && ends && ends->values.size() == 1 && ends->values[0] >= 4.0e18) {
                    if (!is_half_batch(n.inputs[1], n.inputs[0]).empty()) pair.second = &n;
                }
            }
        }
    }
    for (auto& [data, pair] : halves) {
        Node* a = pair.first;
        Node* b = pair.second;
        if (!a || !b) continue;
        // both halves must be cut at the same n
        if (is_half_batch(a->inputs[2], data) != is_half_batch(b->inputs[1], data)) continue;
        a->replacement = encode_node(*a, "Split", {data}, {a->outputs[0], b->outputs[0]}, {}, {{"axis", 0}});
        b->removed = true;
        note("Slices '" + a->name + "', '" + b->name + "': batch halves -> Split(axis 0)");
    }

    // [1,C,1,1] constants of element-wise ops -> [C,1,1]
    std::unordered_map<std::string, std::vector<const Node*>> consumers;
    for (const auto& n : nodes)
        if (!n.removed)
            for (const auto& in : n.inputs) consumers[in].push_back(&n);
    std::unordered_map<std::string, std::vector<std::uint8_t>> reshaped;
    for (const auto& [name, field] : initializers) {
        const auto tf = pb::parse(field->data, field->size);
        const auto dims = pb::int64s(tf, kTensorDims);
        if (dims.size() != 4 || dims[0] != 1 || dims[2] != 1 || dims[3] != 1 || dims[1] <= 1) continue;
        auto it = consumers.find(name);
        if (it == consumers.end()) continue;
        bool all_eltwise = true;
        for (const Node* c : it->second)
            all_eltwise &= (c->op_type == "Add" || c->op_type == "Sub" || c->op_type == "Mul" || c->op_type == "Div");
        if (!all_eltwise) continue;
        pb::Writer t;
        for (std::int64_t d : {dims[1], std::int64_t(1), std::int64_t(1)}) t.field_varint(kTensorDims, static_cast<std::uint64_t>(d));
        for (const auto& f : tf)
            if (f.number != kTensorDims) t.raw(f);
        reshaped[name] = std::move(t.out);
        note("constant '" + name + "': [1," + std::to_string(dims[1]) + ",1,1] -> [" + std::to_string(dims[1]) + ",1,1]");
    }

    // the descriptor branch: nodes reaching the "embedding" output and no other output are cut
    // off; the output becomes the one tensor the branch reads from the rest of the graph
    std::string features;
    if (graph_outputs.count(kOutputEmbedding)) {
        std::vector<std::set<std::string>> reaches(nodes.size());
        for (const auto& out : graph_outputs) {
            std::vector<std::size_t> stack;
            std::set<std::size_t> seen;
            if (producer.count(out)) stack.push_back(producer.at(out));
            while (!stack.empty()) {
                const std::size_t i = stack.back();
                stack.pop_back();
                if (!seen.insert(i).second) continue;
                reaches[i].insert(out);
                for (const auto& in : nodes[i].inputs)
                    if (producer.count(in)) stack.push_back(producer.at(in));
            }
        }
        // A learnt projection on the way (dlib_resnet's 128-D descriptor layer, a MatMul / Gemm)
        // stays in the graph: only the flip sum and the L2 normalisation move to the runner.
        std::set<std::size_t> branch;
        for (std::size_t i = 0; i < nodes.size(); ++i)
            if (reaches[i] == std::set<std::string>{kOutputEmbedding} && nodes[i].op_type != "MatMul" &&
                nodes[i].op_type != "Gemm")
                branch.insert(i);
        std::set<std::string> sources;
        for (std::size_t i : branch) {
            const Node& n = nodes[i];
            // data inputs only: batch sizes read for the flip halves (Shape, Unsqueeze, Slice bounds) are not
            if (n.op_type == "Shape" || n.op_type == "Unsqueeze" || n.op_type == "Constant") continue;
            const bool eltwise = n.op_type == "Add" || n.op_type == "Sub" || n.op_type == "Mul" || n.op_type == "Div";
            for (std::size_t k = 0; k < (eltwise ? n.inputs.size() : std::min<std::size_t>(1, n.inputs.size())); ++k) {
                const std::string& in = n.inputs[k];
                if (!in.empty() && producer.count(in) && !branch.count(producer.at(in)) && !consts.count(in))
                    sources.insert(in);
            }
        }
        if (sources.size() != 1)
            throw ModelError("cannot find the pooled-feature tensor of the 'embedding' output (" +
                             std::to_string(sources.size()) + " candidates)");
        features = *sources.begin();
        for (std::size_t i : branch) nodes[i].removed = true;
        graph_outputs.erase(kOutputEmbedding);
        graph_outputs.insert(features);
        note("descriptor branch (" + std::to_string(branch.size()) + " nodes) cut off: output '" + features +
             "', added and L2-normalised by the runner");
    }
    if (embedding_features) *embedding_features = features;

    // drop nodes whose outputs nobody reads
    for (bool changed = true; changed;) {
        changed = false;
        std::set<std::string> used(graph_outputs.begin(), graph_outputs.end());
        for (const auto& n : nodes) {
            if (n.removed) continue;
            if (n.replacement) {
                for (const auto& f : pb::parse(n.replacement->data(), n.replacement->size()))
                    if (f.number == kNodeInput && f.wire == 2) used.emplace(f.str());
            } else {
                used.insert(n.inputs.begin(), n.inputs.end());
            }
        }
        for (auto& n : nodes) {
            if (n.removed) continue;
            const bool any_used = std::any_of(n.outputs.begin(), n.outputs.end(),
                                              [&](const std::string& o) { return used.count(o) > 0; });
            if (!any_used) { n.removed = true; changed = true; }
        }
    }

    pb::Writer graph;
    bool nodes_written = false;
    for (const auto& g : graph_fields) {
        if (g.number == kGraphNode && g.wire == 2) {
            if (nodes_written) continue;
            nodes_written = true;
            for (const auto& n : nodes) {
                if (n.removed) continue;
                if (n.replacement) graph.field_bytes(kGraphNode, *n.replacement);
                else if (n.inputs_renamed) graph.field_bytes(kGraphNode, encode_with_inputs(n));
                else graph.raw(n.field);
            }
        } else if (g.number == kGraphInitializer && g.wire == 2) {
            const std::string name = string_field(pb::parse(g.data, g.size), kTensorName);
            auto it = reshaped.find(name);
            if (it != reshaped.end()) graph.field_bytes(kGraphInitializer, it->second);
            else graph.raw(g);
        } else if (g.number == kGraphOutput && g.wire == 2 && !features.empty() &&
                   string_field(pb::parse(g.data, g.size), 1) == kOutputEmbedding) {
            pb::Writer vi;                                  // the output's ValueInfoProto, renamed (its type
            vi.field_bytes(1, features);                    // [batch, D] float is the features' too)
            for (const auto& f : pb::parse(g.data, g.size))
                if (f.number != 1) vi.raw(f);
            graph.field_bytes(kGraphOutput, vi.out);
        } else {
            graph.raw(g);
        }
    }
    for (const auto& t : new_initializers) graph.field_bytes(kGraphInitializer, t);

    pb::Writer model;
    for (const auto& f : model_fields) {
        if (&f == graph_field) model.field_bytes(kModelGraph, graph.out);
        else if (!(f.number == kModelGraph && f.wire == 2)) model.raw(f);
    }
    return model.out;
}

}  // namespace agegender_edge
