// Backend latency: agegender_edge_bench MODEL.onnx FACES_DIR [ITERS] [THREADS]
// Runs the real fixture faces through the OpenCV DNN runner at batch 1 and 32; prints the median
// and p90 of ITERS calls per batch size (after warm-up). Built on demand (not part of `all`).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "agegender_edge/agegender_edge.hpp"

using namespace agegender_edge;

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: agegender_edge_bench MODEL.onnx FACES_DIR [ITERS] [THREADS]\n");
        return 2;
    }
    const int iters = argc > 3 ? std::max(1, std::atoi(argv[3])) : 50;
    RunnerOptions ro;
    ro.threads = argc > 4 ? std::max(0, std::atoi(argv[4])) : 0;
    auto runner = create_opencv_runner(argv[1], ro);
    const ModelMetadata& meta = runner->metadata();
    std::vector<cv::String> files;
    cv::glob(std::string(argv[2]) + "/*.jpg", files, false);
    if (files.empty()) return 1;
    const std::size_t per = std::size_t(3) * meta.input.height * meta.input.width;
    std::vector<float> all(per * 32);
    for (int i = 0; i < 32; ++i) {
        const cv::Mat face = chip_to_input(load_image(files[i % files.size()]), meta);
        write_chw(face, meta, all.data() + per * i);
    }
    std::printf("model %s, %s, %d iterations, threads %d\n", meta.name.c_str(), runner->describe().c_str(), iters,
                cv::getNumThreads());
    for (int batch : {1, 32}) {
        for (int w = 0; w < 5; ++w) runner->infer(all.data(), batch);
        std::vector<double> ms;
        for (int i = 0; i < iters; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            runner->infer(all.data(), batch);
            ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        std::sort(ms.begin(), ms.end());
        std::printf("batch %2d: median %.2f ms, p90 %.2f ms (%.3f ms/face)\n", batch, ms[ms.size() / 2],
                    ms[ms.size() * 9 / 10], ms[ms.size() / 2] / batch);
    }
    return 0;
}
