// Alignment parity tool (tests/cpp/compare_with_python.py --check aligned): the SAME detections
// (boxes + five landmarks, chosen by the Python side) go through the C++ face_input (landmark
// alignment or the box rule), the OpenCV DNN runner and the calibrated decoder. Writes each
// network input as raw HxWx3 uint8 bytes (crop_<i>.bin, model colour order) and the results as
// the app's JSON, so Python can compare crops byte for byte and outputs within tolerances.
//
// usage: align_parity MODEL.onnx CASES.json OUT_DIR
// CASES.json: [{"image": PATH, "box": [x, y, w, h], "landmarks": [[x, y] x 5] | null}, ...]
#include <algorithm>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agegender_edge/agegender_edge.hpp"

using namespace agegender_edge;

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: align_parity MODEL.onnx CASES.json OUT_DIR\n";
        return 2;
    }
    try {
        const auto runner = create_opencv_runner(argv[1]);
        const ModelMetadata& meta = runner->metadata();
        std::ifstream in(argv[2]);
        const nlohmann::json cases = nlohmann::json::parse(in);
        const std::string out_dir = argv[3];
        std::vector<ImageResult> results;
        std::vector<cv::Mat> inputs;
        for (std::size_t i = 0; i < cases.size(); ++i) {
            const auto& c = cases[i];
            const cv::Mat bgr = load_image(c.at("image").get<std::string>());
            const auto box = c.at("box").get<std::vector<double>>();
            Detection d{box.at(0), box.at(1), box.at(2), box.at(3), 1.0, std::nullopt};
            if (!c.at("landmarks").is_null()) {
                Landmarks lm{};
                for (std::size_t k = 0; k < 5; ++k) lm[k] = {c["landmarks"][k][0].get<double>(), c["landmarks"][k][1].get<double>()};
                d.landmarks = lm;
            }
            FaceInput f = face_input(bgr, d, kYuNetCalibration, meta);
            std::ofstream crop(out_dir + "/crop_" + std::to_string(i) + ".bin", std::ios::binary);
            const cv::Mat cont = f.input.isContinuous() ? f.input : f.input.clone();
            crop.write(reinterpret_cast<const char*>(cont.data), static_cast<std::streamsize>(cont.total() * cont.elemSize()));
            ImageResult r;
            r.source = c["image"].get<std::string>();
            r.width = bgr.cols;
            r.height = bgr.rows;
            FaceResult face;
            face.box = {d.x, d.y, d.width, d.height};
            face.crop_box = f.crop;
            face.landmarks = d.landmarks;
            r.faces.push_back(face);
            results.push_back(std::move(r));
            inputs.push_back(cont);
        }
        const std::size_t per = std::size_t(3) * meta.input.height * meta.input.width, cap = 32;  // as Predictor
        for (std::size_t start = 0; start < inputs.size(); start += cap) {
            const std::size_t n = std::min(cap, inputs.size() - start);
            std::vector<float> batch(per * n);
            for (std::size_t i = 0; i < n; ++i) write_chw(inputs[start + i], meta, batch.data() + per * i);
            const auto preds = decode_outputs(runner->infer(batch.data(), static_cast<int>(n)), meta);
            for (std::size_t i = 0; i < n; ++i) results[start + i].faces[0].prediction = preds[i];
        }
        std::cout << to_json(results) << "\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "align_parity: " << e.what() << "\n";
        return 1;
    }
}
