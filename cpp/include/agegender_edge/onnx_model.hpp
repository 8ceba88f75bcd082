// Reading what the runtime needs from an ONNX file without protobuf or onnx libraries:
// metadata_props, the weights checksum, and an equivalent graph for OpenCV 4.6 DNN.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "agegender_edge/metadata.hpp"

namespace agegender_edge {

struct OnnxModelFile {
    std::string path;
    std::vector<std::uint8_t> bytes;                       // the whole file
    std::map<std::string, std::string> metadata_props;    // ModelProto.metadata_props
    // Graph inputs that are not initializers, with their dims (-1 = symbolic), and graph outputs.
    std::vector<std::pair<std::string, std::vector<std::int64_t>>> inputs;
    std::vector<std::string> outputs;
};

// Throws ModelFormatError when the graph's input/outputs do not match the metadata
// (input name and [N,3,H,W] shape, the five named outputs), as backends/onnxruntime.py check_io.
void check_io(const OnnxModelFile& model, const ModelMetadata& meta);

// Reads and walks the file (ModelProto field 14 = metadata_props). Throws ModelError when the file
// is missing, empty, not a protobuf / not an ONNX model (no graph).
OnnxModelFile read_onnx_file(const std::string& path);

// Same, from bytes already in memory; `source` names them in messages.
OnnxModelFile parse_onnx_bytes(std::vector<std::uint8_t> bytes, const std::string& source);

// The "agegender_edge" metadata of the model. Throws ModelFormatError when absent or malformed.
ModelMetadata metadata_from_onnx(const OnnxModelFile& model);

// sha256 over the serialized initializers of the main graph, in file order, each prefixed by its
// length as 8 little-endian bytes (agegender_edge/model_file.py: initializer_digest).
std::string initializer_digest(const std::vector<std::uint8_t>& model_bytes);

// Throws ModelIntegrityError when metadata.weights_sha256 is set and does not match.
void verify_weights(const OnnxModelFile& model, const ModelMetadata& meta);

// sha256 of a byte range, lowercase hex.
std::string sha256_hex(const void* data, std::size_t size);

// Rewrites the graph into an equivalent one that OpenCV 4.6's ONNX importer runs correctly:
//  * Clip(x, min, max) with constant bounds -> Clip with min/max attributes (opset-6 form);
//  * a Slice reversing the last axis (step -1: the in-graph flip TTA) -> MatMul with the
//    exchange matrix (exact: each output is one input times 1.0);
//  * the two batch-halving Slices of the flip TTA ([0:n], [n:]) -> one Split(axis 0) into halves;
//  * [1,C,1,1] constants of Add/Sub/Mul/Div -> [C,1,1] (OpenCV 4.6 otherwise broadcasts them over
//    the batch axis: wrong results for batch 3, an exception for other batch sizes);
//  * the face descriptor's branch (the nodes that lead to the "embedding" output only: flip halves
//    added, ReduceL2, Clip, Div; OpenCV 4.6 cannot broadcast that Div) is cut off: the graph
//    output becomes the pooled-feature tensor it starts from, named in `embedding_features`, and
//    the runner adds the halves (flip) and L2-normalises in C++ (the same arithmetic);
//  * nodes whose outputs are no longer used are dropped.
// Weights are untouched. `applied` receives one line per rewrite. The input is not modified.
std::vector<std::uint8_t> rewrite_for_opencv_dnn(const std::vector<std::uint8_t>& model_bytes,
                                                 int input_width, std::vector<std::string>* applied,
                                                 std::string* embedding_features = nullptr);

}  // namespace agegender_edge
