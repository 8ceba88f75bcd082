// Unit tests of the C++ runtime (no framework: each CHECK failure is reported, exit status 1).
// Usage: agegender_edge_unit_tests MODEL.onnx FACE.jpg
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "agegender_edge/agegender_edge.hpp"
#include "engine_cache.hpp"  // internal: the TensorRT engine cache key

using namespace agegender_edge;

namespace {
int g_failures = 0, g_checks = 0;
#define CHECK(cond)                                                                          \
    do {                                                                                     \
        ++g_checks;                                                                          \
        if (!(cond)) {                                                                       \
            ++g_failures;                                                                    \
            std::cerr << __FILE__ << ":" << __LINE__ << ": CHECK failed: " #cond << "\n"; \
        }                                                                                    \
    } while (0)

template <class E>
bool throws(const std::function<void()>& f, const std::string& needle = "") {
    try {
        f();
    } catch (const E& e) {
        if (!needle.empty() && std::string(e.what()).find(needle) == std::string::npos) {
            std::cerr << "  exception without '" << needle << "': " << e.what() << "\n";
            return false;
        }
        return true;
    } catch (const std::exception& e) {
        std::cerr << "  unexpected exception type: " << e.what() << "\n";
        return false;
    }
    return false;
}

std::vector<std::uint8_t> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

const char* kGoodMeta = R"({"name":"m","architecture":"a","format_version":1,
  "input":{"name":"input","size":[96,96],"colour_order":"RGB","mean":[1,2,3],"std":[4,5,6]},
  "crop":{"resize_to":112,"interpolation":"area"},
  "age_groups":["0-2","4-6"],"age_bins":[0,1,2],"gender_labels":["female","male"]})";

void test_sha256() {
    CHECK(sha256_hex("", 0) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256_hex("abc", 3) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const std::string long_msg(1000, 'a');  // crosses several 64-byte blocks
    CHECK(sha256_hex(long_msg.data(), long_msg.size()) ==
          "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

void test_metadata_json() {
    const ModelMetadata m = ModelMetadata::from_json(kGoodMeta, "t");
    CHECK(m.input.height == 96 && m.input.width == 96);
    CHECK(m.input.mean[2] == 3.0f && m.input.std[0] == 4.0f);
    CHECK(m.age_groups.size() == 2 && m.age_bins.size() == 3);
    CHECK(m.input.normalize_in_graph);  // default
    std::string future = kGoodMeta;
    future.replace(future.find("\"format_version\":1"), 18, "\"format_version\":3");
    CHECK(throws<ModelFormatError>([&] { ModelMetadata::from_json(future, "t"); }, "newer than this runtime supports"));
    std::string none = kGoodMeta;
    none.replace(none.find("\"format_version\":1,"), 19, "");
    CHECK(throws<ModelFormatError>([&] { ModelMetadata::from_json(none, "t"); }, "no valid format_version"));
    CHECK(throws<ModelFormatError>([&] { ModelMetadata::from_json("{not json", "t"); }, "not valid JSON"));
    CHECK(throws<ModelFormatError>([&] { ModelMetadata::from_json("[1,2]", "t"); }, "not a JSON object"));
    std::string no_groups = kGoodMeta;
    no_groups.replace(no_groups.find("\"age_groups\""), 12, "\"age_groupz\"");
    CHECK(throws<ModelFormatError>([&] { ModelMetadata::from_json(no_groups, "t"); }, "malformed"));
    std::string bad_type = kGoodMeta;
    bad_type.replace(bad_type.find("[96,96]"), 7, "\"96x96\"");
    CHECK(throws<ModelFormatError>([&] { ModelMetadata::from_json(bad_type, "t"); }));
    std::string bad_order = kGoodMeta;
    bad_order.replace(bad_order.find("\"RGB\""), 5, "\"YUV\"");
    CHECK(throws<ModelFormatError>([&] { ModelMetadata::from_json(bad_order, "t"); }, "colour_order"));
}

void test_model_file(const std::string& model_path) {
    const OnnxModelFile model = read_onnx_file(model_path);
    const ModelMetadata meta = metadata_from_onnx(model);
    CHECK(meta.format_version >= 1 && meta.format_version <= kFormatVersion);
    CHECK(meta.age_groups.size() == 8);
    CHECK(meta.gender_labels.size() == 2);
    CHECK(meta.input.colour_order == "RGB" || meta.input.colour_order == "BGR");
    // the checksum the exporter recorded is the one we compute over the initializers
    CHECK(meta.weights_sha256.has_value());
    if (meta.weights_sha256) CHECK(initializer_digest(model.bytes) == *meta.weights_sha256);
    CHECK(!model.inputs.empty() && model.inputs[0].first == meta.input.name);
    check_io(model, meta);  // throws on mismatch

    // every truncation of the file is refused with a ModelError or still parses: never a crash
    const std::size_t n = model.bytes.size();
    int refused = 0;
    for (std::size_t cut : {std::size_t(1), std::size_t(7), std::size_t(100), n / 3, n / 2, n - 100, n - 1}) {
        std::vector<std::uint8_t> part(model.bytes.begin(), model.bytes.begin() + static_cast<long>(cut));
        try {
            const OnnxModelFile m = parse_onnx_bytes(part, "cut");
            initializer_digest(m.bytes);
            metadata_from_onnx(m);
        } catch (const ModelError&) {
            ++refused;
        }
    }
    CHECK(refused == 7);
    // random bytes (a JPEG) are not an ONNX model
    std::vector<std::uint8_t> junk(4096);
    std::uint32_t s = 1;
    for (auto& b : junk) { s = s * 1103515245u + 12345u; b = static_cast<std::uint8_t>(s >> 16); }
    CHECK(throws<ModelError>([&] { metadata_from_onnx(parse_onnx_bytes(junk, "junk")); }));

    // the OpenCV rewrite leaves the weights alone (same initializer digest modulo added tensors)
    std::vector<std::string> applied;
    std::string features;
    const auto rewritten = rewrite_for_opencv_dnn(model.bytes, meta.input.width, &applied, &features);
    CHECK(!applied.empty());
    const OnnxModelFile again = parse_onnx_bytes(rewritten, "rewritten");
    CHECK(again.metadata_props == model.metadata_props);
    // the same outputs, except that the descriptor's becomes the pooled features it is made from
    std::vector<std::string> expected = model.outputs;
    for (auto& o : expected)
        if (o == kOutputEmbedding) o = features;
    CHECK((meta.embedding_dim > 0) == !features.empty());
    CHECK(again.outputs == expected);
}

void test_geometry() {
    // Python round(): half to even
    SquareRegion r = square_region(10.0, 10.0, 4.5);
    CHECK(r.side == 4 && r.x0 == 8 && r.y0 == 8);
    r = square_region(10.5, 11.5, 5.5);  // side 6; 10.5-3 = 7.5 -> 8; 11.5-3 = 8.5 -> 8
    CHECK(r.side == 6 && r.x0 == 8 && r.y0 == 8);
    r = square_region(0.0, 0.0, 0.2);
    CHECK(r.side == 1);
    cv::Mat img(4, 6, CV_8UC3, cv::Scalar(10, 20, 30));
    cv::Mat inside = cut_square(img, 1, 0, 3);
    CHECK(inside.rows == 3 && inside.cols == 3 && inside.at<cv::Vec3b>(0, 0) == cv::Vec3b(10, 20, 30));
    cv::Mat padded = cut_square(img, -2, -1, 5);
    CHECK(padded.rows == 5 && padded.cols == 5);
    CHECK(padded.at<cv::Vec3b>(0, 0) == cv::Vec3b(0, 0, 0));
    CHECK(padded.at<cv::Vec3b>(1, 2) == cv::Vec3b(10, 20, 30));
    cv::Mat outside = cut_square(img, 100, 100, 7);
    CHECK(outside.rows == 7 && cv::countNonZero(outside.reshape(1)) == 0);
    ChipCalibration c{1.2, 0.0, 0.066};
    Detection d;
    d.x = 10; d.y = 20; d.width = 100; d.height = 100;
    const auto chip = c.chip(d);
    CHECK(std::fabs(chip.side - 120.0) < 1e-9 && std::fabs(chip.cx - 60.0) < 1e-9 && std::fabs(chip.cy - 76.6) < 1e-9);
}

void test_chip_to_input() {
    ModelMetadata meta = ModelMetadata::from_json(kGoodMeta, "t");
    cv::Mat chip(200, 200, CV_8UC3);
    for (int y = 0; y < 200; ++y)
        for (int x = 0; x < 200; ++x) chip.at<cv::Vec3b>(y, x) = cv::Vec3b(uchar(x), uchar(y), 200);
    cv::Mat in = chip_to_input(chip, meta);
    CHECK(in.rows == 96 && in.cols == 96 && in.type() == CV_8UC3);
    CHECK(in.at<cv::Vec3b>(0, 0)[0] == 200);  // RGB: R (BGR's index 2) first
    std::vector<float> chw(3 * 96 * 96);
    meta.input.normalize_in_graph = false;
    write_chw(in, meta, chw.data());
    CHECK(std::fabs(chw[0] - (200.0f - 1.0f) / 4.0f) < 1e-5f);
    meta.input.normalize_in_graph = true;
    write_chw(in, meta, chw.data());
    CHECK(chw[0] == 200.0f);
}

void test_box_rule() {
    // expected values from agegender_edge.preprocess.kept_region / box_face (Python)
    const ModelMetadata meta = ModelMetadata::from_json(kGoodMeta, "t");  // 112 -> 96
    auto kept = [&](double x, double y, double w, double h, KeptRegion want) {
        const KeptRegion k = kept_region(x, y, w, h, meta);
        return k.x == want.x && k.y == want.y && k.width == want.width && k.height == want.height;
    };
    CHECK(kept(0, 0, 112, 112, {8, 8, 96, 96}));      // a resize_to chip: the centre crop exactly
    CHECK(kept(0, 0, 200, 200, {14, 14, 172, 172}));
    CHECK(kept(0, 0, 200, 150, {14, 11, 172, 128}));  // non-square chip
    CHECK(kept(-5, 3, 57, 57, {-1, 7, 49, 49}));
    CHECK(kept(10, 20, 1, 1, {10, 20, 1, 1}));        // at least one pixel
    // Python round(): ties to even (0.5 -> 0, 6.5 -> 6; 2.5 -> 2, 32.5 -> 32; 1.5 -> 2, 19.5 -> 20)
    CHECK(kept(0, 0, 7, 7, {0, 0, 6, 6}));
    CHECK(kept(0, 0, 35, 35, {2, 2, 30, 30}));
    CHECK(kept(0, 0, 21, 21, {2, 2, 18, 18}));
    // a resize_to chip is copied, not resampled: the old two-step rule's centre crop
    cv::Mat img(150, 150, CV_8UC3);
    for (int y = 0; y < 150; ++y)
        for (int x = 0; x < 150; ++x) img.at<cv::Vec3b>(y, x) = cv::Vec3b(uchar(x), uchar(y), uchar(x + y));
    cv::Mat face = box_face(img, 5, 7, 112, meta);
    CHECK(face.rows == 96 && face.cols == 96 && cv::norm(face, img(cv::Rect(13, 15, 96, 96)), cv::NORM_INF) == 0);
    // zero padding where the kept region leaves the image (face stays centred, training scale)
    cv::Mat small(50, 60, CV_8UC3, cv::Scalar(10, 20, 30));
    face = box_face(small, -30, -30, 112, meta);
    CHECK(face.rows == 96 && face.cols == 96);
    CHECK(face.at<cv::Vec3b>(0, 0) == cv::Vec3b(0, 0, 0) && face.at<cv::Vec3b>(95, 95) == cv::Vec3b(0, 0, 0));
    CHECK(face.at<cv::Vec3b>(21, 21) == cv::Vec3b(0, 0, 0) && face.at<cv::Vec3b>(22, 22) == cv::Vec3b(10, 20, 30));
    CHECK(face.at<cv::Vec3b>(30, 30) == cv::Vec3b(10, 20, 30));
}

void test_quantiles() {
    const std::vector<float> bins = {0, 1, 2, 3, 4};
    const float uniform[] = {0.2f, 0.2f, 0.2f, 0.2f, 0.2f};  // cdf .2 .4 .6 .8 1
    CHECK(std::fabs(age_quantile(uniform, bins, 0.1) - 0.0f) < 1e-6f);  // below cdf[0]
    CHECK(std::fabs(age_quantile(uniform, bins, 0.5) - 1.5f) < 1e-5f);
    CHECK(std::fabs(age_quantile(uniform, bins, 0.9) - 3.5f) < 1e-5f);
    // values from agegender_edge.decode.age_quantiles (np.interp over the float32 cdf)
    const float peak[] = {0.0f, 0.0f, 1.0f, 0.0f, 0.0f};  // cdf 0 0 1 1 1: interpolates bins 1..2
    CHECK(std::fabs(age_quantile(peak, bins, 0.1) - 1.1f) < 1e-6f && std::fabs(age_quantile(peak, bins, 0.9) - 1.9f) < 1e-6f);
    const float plateau[] = {0.1f, 0.0f, 0.0f, 0.5f, 0.4f};  // float32 0.1 > 0.1: below cdf[0]
    CHECK(age_quantile(plateau, bins, 0.1) == 0.0f && std::fabs(age_quantile(plateau, bins, 0.9) - 3.75f) < 1e-6f);
}

void test_age_group_rule() {
    const std::vector<std::string> g = {"0-2", "4-6", "8-12", "15-20", "25-32", "38-43", "48-53", "60-100"};
    // expected values from agegender_edge.labels.nearest_group (Python)
    const double ages[] = {0, 3.4, 3.5, 4.5, 13.5, 14.49, 22.5, 35.5, 45.5, 56.5, 57, 120};
    const std::size_t want[] = {0, 0, 1, 1, 3, 3, 3, 5, 6, 6, 7, 7};
    for (std::size_t i = 0; i < 12; ++i) CHECK(nearest_group(ages[i], g) == want[i]);
    std::string rule = kGoodMeta;
    rule.replace(rule.find("\"format_version\":1"), 18, "\"format_version\":1,\"age_group_rule\":\"expected_age\"");
    CHECK(ModelMetadata::from_json(rule, "t").age_group_rule == "expected_age");
    std::string bad_labels = rule;
    bad_labels.replace(bad_labels.find("\"4-6\""), 5, "\"4to6\"");
    CHECK(throws<ModelFormatError>([&] { ModelMetadata::from_json(bad_labels, "t"); }, "is not LO-HI"));
    std::string unknown = kGoodMeta;
    unknown.replace(unknown.find("\"format_version\":1"), 18, "\"format_version\":1,\"age_group_rule\":\"median\"");
    CHECK(throws<ModelFormatError>([&] { ModelMetadata::from_json(unknown, "t"); }, "unknown age_group_rule"));
    std::string cal = kGoodMeta;
    cal.replace(cal.find("\"interpolation\":\"area\""), 22,
                "\"interpolation\":\"area\",\"calibration\":{\"haar\":{\"scale\":1.5,\"dy\":0.1}}");
    const ModelMetadata m = ModelMetadata::from_json(cal, "t");
    CHECK(m.crop.calibration.count("haar") == 1 && m.crop.calibration.at("haar").scale == 1.5 &&
          m.crop.calibration.at("haar").dx == 0.0 && m.crop.calibration.at("haar").dy == 0.1);
}

void test_age_estimate() {
    std::string text = kGoodMeta;
    text.replace(text.find("\"format_version\":1"), 18, "\"format_version\":1,\"age_estimate\":\"median\"");
    ModelMetadata meta = ModelMetadata::from_json(text, "t");
    CHECK(meta.age_estimate == "median" && ModelMetadata::from_json(kGoodMeta, "t").age_estimate == "mean");
    Outputs out;
    out.n = 1;
    out.gender = {0.3f, 0.7f};
    out.age_group = {0.5f, 0.5f};
    out.age_mean = {1.4f};
    out.age_std = {0.8f};
    out.age_bins = {0.2f, 0.2f, 0.6f};  // cdf .2 .4 1: median = 1 + 0.1 / 0.6 (decode.age_and_interval)
    CHECK(std::fabs(decode_outputs(out, meta)[0].age - (1.0 + 0.1 / 0.6)) < 1e-5);
    meta.age_estimate = "mean";
    CHECK(std::fabs(decode_outputs(out, meta)[0].age - 1.4) < 1e-6);
    std::string unknown = kGoodMeta;
    unknown.replace(unknown.find("\"format_version\":1"), 18, "\"format_version\":1,\"age_estimate\":\"mode\"");
    CHECK(throws<ModelFormatError>([&] { ModelMetadata::from_json(unknown, "t"); }, "unknown age_estimate"));
    // the reported group is the most probable one (decode.py), whatever the age rule: here the
    // age (~1.2 y) lies in 0-2, the nearest-group rule's pick, but 4-6 is the more probable group
    meta.age_estimate = "median";
    meta.age_group_rule = "expected_age";
    out.age_group = {0.3f, 0.7f};
    const Prediction p = decode_outputs(out, meta)[0];
    CHECK(p.age < 2.0 && p.age_group == "4-6");
    meta.age_group_rule = "argmax";
    CHECK(decode_outputs(out, meta)[0].age_group == "4-6");
}

const char* kAlignCalib = R"(,"align":{"method":"similarity5","landmarks":"yunet5","interpolation":"linear",
  "border":"replicate","antialias":true,"template":[[0.3,0.3],[0.7,0.3],[0.5,0.5],[0.35,0.7],[0.65,0.7]]},
  "calibration":{"gender_temperature":2.0,"age_interval_quantiles":[0.2,0.8],"fitted_on":"t"})";

std::string with_align_calibration(const std::string& extra = kAlignCalib) {
    std::string text = kGoodMeta;
    text.replace(text.find("\"format_version\":1"), 18, "\"format_version\":2" + extra);
    return text;
}

void test_align_calibration_metadata() {
    const ModelMetadata m = ModelMetadata::from_json(with_align_calibration(), "t");
    CHECK(m.format_version == 2 && m.align.has_value());
    CHECK(m.align && m.align->templ[3][0] == 0.35 && m.align->border == "replicate" && m.align->antialias);
    CHECK(m.calibration.gender_temperature == 2.0 && m.calibration.age_interval_quantiles[1] == 0.8);
    const ModelMetadata plain = ModelMetadata::from_json(kGoodMeta, "t");  // format 1: identity
    CHECK(!plain.align && plain.calibration.gender_temperature == 1.0 &&
          plain.calibration.age_interval_quantiles[0] == 0.1 && plain.calibration.age_interval_quantiles[1] == 0.9);
    std::string four = kAlignCalib;
    four.replace(four.find(",[0.65,0.7]"), 11, "");
    CHECK(throws<ModelFormatError>([&] { ModelMetadata::from_json(with_align_calibration(four), "t"); }, "5 [x, y] points"));
    std::string border = kAlignCalib;
    border.replace(border.find("\"replicate\""), 11, "\"reflect\"");
    CHECK(throws<ModelFormatError>([&] { ModelMetadata::from_json(with_align_calibration(border), "t"); }, "align.border"));
    std::string temp = kAlignCalib;
    temp.replace(temp.find("2.0"), 3, "0.0");
    CHECK(throws<ModelFormatError>([&] { ModelMetadata::from_json(with_align_calibration(temp), "t"); }, "gender_temperature"));
    std::string qs = kAlignCalib;
    qs.replace(qs.find("[0.2,0.8]"), 9, "[0.8,0.2]");
    CHECK(throws<ModelFormatError>([&] { ModelMetadata::from_json(with_align_calibration(qs), "t"); }, "age_interval_quantiles"));
}

void test_similarity_transform() {
    // a known similarity (scale 0.8, 30 degrees, shift) is recovered exactly from 5 points
    const double sc = 0.8, th = 30.0 * 3.14159265358979323846 / 180.0, tx = 12.5, ty = -7.25;
    const Landmarks src = {{{10, 20}, {50, 22}, {31, 45}, {15, 70}, {48, 71}}};
    Landmarks dst{};
    for (std::size_t k = 0; k < 5; ++k)
        dst[k] = {sc * (std::cos(th) * src[k][0] - std::sin(th) * src[k][1]) + tx,
                  sc * (std::sin(th) * src[k][0] + std::cos(th) * src[k][1]) + ty};
    const auto m = similarity_transform(src, dst);
    CHECK(m.has_value());
    if (m) {
        CHECK(std::fabs(m->at<double>(0, 0) - sc * std::cos(th)) < 1e-12 && std::fabs(m->at<double>(1, 0) - sc * std::sin(th)) < 1e-12);
        CHECK(std::fabs(m->at<double>(0, 2) - tx) < 1e-10 && std::fabs(m->at<double>(1, 2) - ty) < 1e-10);
    }
    Landmarks same{};
    for (auto& p : same) p = {5.0, 5.0};
    CHECK(!similarity_transform(same, dst));              // degenerate: all on one spot
    Landmarks bad = src;
    bad[2][0] = std::nan("");
    CHECK(!similarity_transform(bad, dst));               // not finite
}

void test_warp_face() {
    const ModelMetadata meta = ModelMetadata::from_json(with_align_calibration(), "t");
    cv::Mat img(400, 400, CV_8UC3);
    cv::randu(img, 0, 255);
    cv::GaussianBlur(img, img, cv::Size(0, 0), 6.0);  // smooth: downscaling paths must agree closely
    // landmarks of a face spanning ~300 px: the 96 px warp shrinks ~3x -> antialias reduction
    Landmarks lm{};
    for (std::size_t k = 0; k < 5; ++k) lm[k] = {50 + 300 * meta.align->templ[k][0], 40 + 300 * meta.align->templ[k][1]};
    const auto a = align_landmarks(img, lm, *meta.align, 96, 96);
    CHECK(a.has_value());
    if (a) {
        CHECK(a->face.rows == 96 && a->face.cols == 96 && a->face.type() == CV_8UC3);
        CHECK(std::fabs(a->scale - 96.0 / 300.0) < 1e-9 && std::fabs(a->side - 300.0) < 1e-6);
        CHECK(std::fabs(a->cx - 200.0) < 1e-6 && std::fabs(a->cy - 190.0) < 1e-6);
        AlignSpec plain = *meta.align;
        plain.antialias = false;
        cv::Mat direct = warp_face(img, a->matrix, 96, 96, plain), diff;
        cv::absdiff(direct, a->face, diff);
        CHECK(cv::mean(diff)[0] < 3.0);  // smooth image: box-averaged and point-sampled agree
    }
    // landmarks outside the image (a face at the border): a replicated border, no crash
    Landmarks off = lm;
    for (auto& p : off) p[0] -= 250;
    const auto b = align_landmarks(img, off, *meta.align, 96, 96);
    CHECK(b.has_value() && b->face.rows == 96);
    // face_input falls back to the box rule for degenerate landmarks
    Detection d{100, 100, 120, 120, 0.9, Landmarks{}};
    const FaceInput f = face_input(img, d, kYuNetCalibration, meta);
    CHECK(!f.aligned && f.input.rows == 96 && f.input.cols == 96);
    d.landmarks = lm;
    CHECK(face_input(img, d, kYuNetCalibration, meta).aligned);
}

void test_calibrated_decode() {
    ModelMetadata meta = ModelMetadata::from_json(with_align_calibration(), "t");
    Outputs out;
    out.n = 1;
    out.gender = {0.2f, 0.8f};
    out.age_group = {0.5f, 0.5f};
    out.age_mean = {1.0f};
    out.age_std = {0.8f};
    out.age_bins = {0.25f, 0.5f, 0.25f};
    const Prediction p = decode_outputs(out, meta)[0];
    // T = 2: sigmoid(log(0.8 / 0.2) / 2) = 2 / 3
    CHECK(p.gender == "male" && std::fabs(p.gender_probability - 2.0 / 3.0) < 1e-6);
    CHECK(std::fabs(p.age_interval_80[0] - age_quantile(out.age_bins.data(), meta.age_bins, 0.2)) < 1e-9);
    CHECK(std::fabs(p.age_interval_80[1] - age_quantile(out.age_bins.data(), meta.age_bins, 0.8)) < 1e-9);
    meta.calibration = CalibrationSpec{};  // identity: the raw probability and the 0.1 / 0.9 pair
    const Prediction raw = decode_outputs(out, meta)[0];
    CHECK(raw.gender_probability == double(0.8f));
    CHECK(raw.age_interval_80[0] == double(age_quantile(out.age_bins.data(), meta.age_bins, 0.1)));
}

void test_images(const std::string& face_path) {
    const cv::Mat face = load_image(face_path);
    CHECK(face.type() == CV_8UC3 && face.rows == 200 && face.cols == 200);
    const auto bytes = read_bytes(face_path);
    const auto size = image_size_from_header(bytes.data(), bytes.size());
    CHECK(size && size->first == 200 && size->second == 200);
    CHECK(jpeg_is_complete(bytes.data(), bytes.size()));
    std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<long>(bytes.size() / 2));
    CHECK(throws<InvalidImageError>([&] { decode_image(cut, "cut"); }, "truncated JPEG"));
    CHECK(throws<InvalidImageError>([&] { decode_image({}, "empty"); }, "empty"));
    std::vector<std::uint8_t> text = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'};
    CHECK(throws<InvalidImageError>([&] { decode_image(text, "txt"); }, "not a supported image format"));
    CHECK(throws<ImageTooLargeError>([&] { decode_image(bytes, "big", 100); }, "over the limit"));
    CHECK(throws<InvalidImageError>([&] { load_image("/nonexistent/x.jpg"); }, "no such file"));
    CHECK(throws<InvalidImageError>([&] { load_image("/"); }, "not a regular file"));

    // 16-bit gray PNG -> >> 8 -> BGR; BGRA PNG -> alpha dropped
    cv::Mat g16(5, 7, CV_16UC1, cv::Scalar(0xABCD));
    std::vector<std::uint8_t> png;
    cv::imencode(".png", g16, png);
    cv::Mat d16 = decode_image(png, "g16");
    CHECK(d16.type() == CV_8UC3 && d16.at<cv::Vec3b>(2, 3) == cv::Vec3b(0xAB, 0xAB, 0xAB));
    cv::Mat bgra(5, 7, CV_8UC4, cv::Scalar(1, 2, 3, 4));
    cv::imencode(".png", bgra, png);
    cv::Mat d4 = decode_image(png, "bgra");
    CHECK(d4.type() == CV_8UC3 && d4.at<cv::Vec3b>(0, 0) == cv::Vec3b(1, 2, 3));
    cv::Mat rgb(2, 2, CV_8UC3, cv::Scalar(1, 2, 3));
    CHECK(normalise_image(rgb, "RGB", "a").at<cv::Vec3b>(0, 0) == cv::Vec3b(3, 2, 1));
    cv::Mat f32(2, 2, CV_32FC3);
    CHECK(throws<InvalidImageError>([&] { normalise_image(f32, "BGR", "f"); }, "float32"));
}

void test_json() {
    ImageResult r;
    r.source = "a.jpg";
    r.width = 10;
    r.height = 20;
    FaceResult f;
    f.box = {1, 2, 3, 4};
    f.crop_box = {0, 0, 5, 5};
    f.detection_score = 0.5;
    f.prediction.age_group = "25-32";
    f.prediction.age_group_probs = {{"0-2", 0.25}, {"25-32", 0.75}};
    f.prediction.age = 30.5;
    f.prediction.age_interval_80 = {20, 40};
    f.prediction.gender = "male";
    f.prediction.gender_probability = 0.9;
    r.faces.push_back(f);
    const std::string j = to_json(r);
    // the keys and order of Python's ImageResult.to_dict()
    CHECK(j.find("{\"source\":\"a.jpg\",\"faces\":[{\"box\":{\"x\":1.0,\"y\":2.0,\"width\":3.0,\"height\":4.0},"
                 "\"crop_box\"") == 0);
    CHECK(j.find("\"age_group_probs\":{\"0-2\":0.25,\"25-32\":0.75}") != std::string::npos);
    CHECK(j.find("\"age_interval_80\":[20.0,40.0]") != std::string::npos);
    CHECK(j.find("\"landmarks\":null}],\"width\":10,\"height\":20,\"error\":null,\"error_type\":null}") != std::string::npos);
}

void test_engine_cache_key() {
    // digest and canonical JSON computed by agegender_edge.engine.cache.EngineCacheKey (Python)
    EngineCacheKey k;
    k.onnx_sha256 = std::string(64, 'a');
    for (std::size_t i = 1; i < 64; i += 2) k.onnx_sha256[i] = 'b';
    k.tensorrt_version = "10.3.0.26";
    k.gpu_name = "Orin (nvgpu) \xc3\xa9\"\\";
    k.compute_capability = "8.7";
    k.profile = {1, 32, 32};
    CHECK(k.canonical_json() ==
          "{\"compute_capability\": \"8.7\", \"dla_core\": null, \"gpu_name\": \"Orin (nvgpu) \\u00e9\\\"\\\\\", "
          "\"onnx_sha256\": \"abababababababababababababababababababababababababababababababab\", \"precision\": \"fp16\", "
          "\"profile\": {\"max\": 32, \"min\": 1, \"opt\": 32}, \"sdk_engine_format\": 1, \"tensorrt_version\": \"10.3.0.26\"}");
    CHECK(k.digest() == "8bd468251ec46bdb1d02e1de063ea65ee3b8acb940668ed3a3fbea5c68a14139");
    CHECK(engine_cache_path("/c", file_stem("/m/edge.onnx"), k) == "/c/edge-fp16-8bd468251ec46bdb.engine");
    CHECK(py_json_string("\x7f\x01") == "\"\x7f\\u0001\"");
}

void test_tensorrt_versions() {
    // same cases as tests/engine/test_tensorrt_versions.py (Python)
    CHECK(normalise_tensorrt_version("10.3.0.26") == "10.3.0");
    CHECK(normalise_tensorrt_version("8.5.2.2") == "8.5.2");
    CHECK(normalise_tensorrt_version("10.14.1.48.post1") == "10.14.1");
    CHECK(normalise_tensorrt_version("11.4.0.106") == "11.4.0");
    CHECK(normalise_tensorrt_version("10.3") == "10.3.0");
    CHECK(normalise_tensorrt_version("10") == "10.0.0");
    CHECK(normalise_tensorrt_version("10.03.0") == "10.3.0");
    CHECK(normalise_tensorrt_version("") == "0.0.0");
    CHECK(tensorrt_versions_match("10.3.0.26", "10.3.0"));  // this build vs the Python wheel
    CHECK(tensorrt_versions_match("8.5.2.2", "8.5.2"));
    CHECK(!tensorrt_versions_match("10.3.0", "10.3.1"));
    CHECK(!tensorrt_versions_match("10.3", "10.30"));
    CHECK(!tensorrt_versions_match("10.4.0", "10.3.0.26"));
    // the cache key holds the normalised version: digest computed by Python's EngineCacheKey with
    // tensorrt_version "10.3.0" (tests/engine/test_tensorrt_versions.py SHARED_KEY_DIGEST)
    EngineCacheKey k;
    k.onnx_sha256 = std::string(64, 'a');
    k.tensorrt_version = normalise_tensorrt_version("10.3.0.26");
    k.gpu_name = "Orin";
    k.compute_capability = "8.7";
    k.profile = {1, 32, 32};
    CHECK(k.digest() == "889bbba4847806e4c953c2d29cdc6255737937eccacdb4858a361b916c469904");
    // engine host code is disallowed wherever TensorRT has the switch (8.6+), as in Python
    CHECK(!tensorrt_has_host_code_switch(8, 5));
    CHECK(tensorrt_has_host_code_switch(8, 6));
    CHECK(tensorrt_has_host_code_switch(10, 3));
    CHECK(tensorrt_has_host_code_switch(11, 1));
    static_assert(tensorrt_has_host_code_switch(8, 6) && !tensorrt_has_host_code_switch(8, 5));
}

void test_predictor(const std::string& model_path, const std::string& face_path) {
    PredictorOptions o;
    o.model = model_path;
    o.detector = "none";
    o.batch_size = 2;
    Predictor p(o);
    const std::vector<std::string> paths = {face_path, "/nonexistent.jpg", face_path, face_path};
    const auto results = p.predict_faces(paths);
    CHECK(results.size() == 4);
    CHECK(results[0].ok() && results[0].faces.size() == 1);
    CHECK(!results[1].ok() && results[1].error_type && *results[1].error_type == "InvalidImageError");
    CHECK(p.inference_calls() == 2);  // 3 faces in batches of 2
    // the same face gives the same result whatever its place in the batch
    const auto& a = results[0].faces[0].prediction;
    const auto& b = results[3].faces[0].prediction;
    double diff = std::fabs(a.gender_probability - b.gender_probability);
    for (std::size_t k = 0; k < a.age_group_probs.size(); ++k)
        diff = std::max(diff, std::fabs(a.age_group_probs[k].second - b.age_group_probs[k].second));
    CHECK(diff < 1e-5);
    double sum = 0;
    for (const auto& kv : a.age_group_probs) sum += kv.second;
    CHECK(std::fabs(sum - 1.0) < 1e-4);
    CHECK(a.age_interval_80[0] <= a.age && a.age <= a.age_interval_80[1]);
    // decoded arrays: same result as from the file
    const auto from_mat = p.predict_images({load_image(face_path)}, {"mat"}, true);
    CHECK(from_mat.size() == 1 && from_mat[0].ok());
    CHECK(std::fabs(from_mat[0].faces[0].prediction.age - a.age) < 1e-4);
}
}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: agegender_edge_unit_tests MODEL.onnx FACE.jpg\n";
        return 2;
    }
    const std::string model = argv[1], face = argv[2];
    const std::vector<std::pair<const char*, std::function<void()>>> tests = {
        {"sha256", test_sha256},
        {"metadata_json", test_metadata_json},
        {"model_file", [&] { test_model_file(model); }},
        {"geometry", test_geometry},
        {"chip_to_input", test_chip_to_input},
        {"box_rule", test_box_rule},
        {"quantiles", test_quantiles},
        {"align_calibration_metadata", test_align_calibration_metadata},
        {"similarity_transform", test_similarity_transform},
        {"warp_face", test_warp_face},
        {"calibrated_decode", test_calibrated_decode},
        {"age_group_rule", test_age_group_rule},
        {"age_estimate", test_age_estimate},
        {"images", [&] { test_images(face); }},
        {"json", test_json},
        {"engine_cache_key", test_engine_cache_key},
        {"tensorrt_versions", test_tensorrt_versions},
        {"predictor", [&] { test_predictor(model, face); }},
    };
    int failed_tests = 0;
    for (const auto& [name, fn] : tests) {
        const int before = g_failures;
        try {
            fn();
        } catch (const std::exception& e) {
            ++g_failures;
            std::cerr << name << ": unexpected exception: " << e.what() << "\n";
        }
        const bool ok = g_failures == before;
        failed_tests += !ok;
        std::cout << (ok ? "ok   " : "FAIL ") << name << "\n";
    }
    std::cout << (tests.size() - failed_tests) << " passed, " << failed_tests << " failed (" << g_checks << " checks)\n";
    return failed_tests ? 1 : 0;
}
