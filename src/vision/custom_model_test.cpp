// Custom ONNX models: the YOLOv5 and SSD decoders on hand-made outputs, and real tiny networks
// (tests/fixtures/vision/make_tiny_onnx.py, python3-onnx) that fire on a bright square, run
// through OpenCV and the pipeline's Analyser.
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <unistd.h>
#include <opencv2/imgproc.hpp>

#include "vision/model_registry.hpp"
#include "vision/onnx_detector.hpp"
#include "vision/vision_service.hpp"

namespace mingchu::vision {
namespace {

namespace fs = std::filesystem;

ClassMap two_labels(const std::string& format) {
  ClassMap cm;
  cm.name = "hats";
  cm.format = format;
  cm.width = 64;
  cm.height = 64;
  cm.labels = {{"no_hat", "no_hat", 0.5}, {"cat", "animal", 0.8}};
  return cm;
}

cv::Mat out3(const std::vector<std::vector<float>>& rows) {
  const int sz[] = {1, static_cast<int>(rows.size()), static_cast<int>(rows[0].size())};
  cv::Mat m(3, sz, CV_32F);
  for (size_t r = 0; r < rows.size(); ++r)
    for (size_t c = 0; c < rows[r].size(); ++c) m.ptr<float>()[r * rows[r].size() + c] = rows[r][c];
  return m;
}

TEST(VisionCustom, Yolov5RowsAreLetterboxedBackScoredAndSuppressed) {
  const ClassMap cm = two_labels("yolov5");
  // a 640 x 320 frame into 64 x 64: scale 0.1, 16 rows of padding above and below
  cv::Mat frame(320, 640, CV_8UC3, cv::Scalar(0, 0, 0));
  Letterbox lb;
  cv::Mat in = letterbox(frame, {64, 64}, lb);
  ASSERT_EQ(in.size(), cv::Size(64, 64));
  EXPECT_FLOAT_EQ(lb.scale, 0.1f);
  EXPECT_FLOAT_EQ(lb.pad_x, 0);
  EXPECT_FLOAT_EQ(lb.pad_y, 16);
  auto out = out3({
      {32, 32, 10, 20, 0.9f, 0.9f, 0.1f},    // no_hat 0.81 at the centre
      {33, 32, 10, 20, 0.8f, 0.9f, 0.1f},    // the same box, weaker: suppressed
      {10, 20, 4, 4, 0.9f, 0.1f, 0.85f},     // cat 0.765 < its min_score 0.8
      {50, 40, 4, 4, 0.95f, 0.05f, 0.95f},   // cat 0.9025
      {20, 20, 4, 4, 0.3f, 1.0f, 1.0f},      // objectness too low
      {NAN, 20, 4, 4, 0.99f, 1.0f, 1.0f},    // garbage
  });
  auto dets = decode_yolov5(out, cm, lb, frame.size(), 0.1f);
  ASSERT_TRUE(dets) << dets.error().message;
  ASSERT_EQ(dets->size(), 2u);
  const Detection& a = (*dets)[0];
  EXPECT_EQ(a.label, "cat");
  EXPECT_NEAR(a.score, 0.9025f, 1e-4);
  EXPECT_NEAR(a.box.x, 480, 1e-3);  // (50 - 2) / 0.1
  EXPECT_NEAR(a.box.y, 220, 1e-3);  // (40 - 2 - 16) / 0.1
  EXPECT_NEAR(a.box.width, 40, 1e-3);
  const Detection& b = (*dets)[1];
  EXPECT_EQ(b.label, "no_hat");
  EXPECT_NEAR(b.box.x, 270, 1e-3);
  EXPECT_NEAR(b.box.y, 60, 1e-3);
  EXPECT_NEAR(b.box.height, 200, 1e-3);
  // the caller's floor applies on top of the labels' own
  auto high = decode_yolov5(out, cm, lb, frame.size(), 0.85f);
  ASSERT_TRUE(high);
  ASSERT_EQ(high->size(), 1u);
  EXPECT_EQ((*high)[0].label, "cat");
  // a wrong shape is an error, not a crash
  EXPECT_FALSE(decode_yolov5(out3({{1, 2, 3}}), cm, lb, frame.size(), 0.1f));
}

TEST(VisionCustom, SsdRowsAreNormalisedBoxesOfTheLabels) {
  const ClassMap cm = two_labels("ssd");
  const int sz[] = {1, 1, 4, 7};
  cv::Mat out(4, sz, CV_32F);
  const float rows[4][7] = {
      {0, 0, 0.7f, 0.1f, 0.2f, 0.3f, 0.6f},  // no_hat
      {0, 1, 0.7f, 0.5f, 0.5f, 0.6f, 0.6f},  // cat under its 0.8
      {0, 5, 0.99f, 0, 0, 1, 1},             // a class the map does not have
      {0, 1, 0.9f, 0.5f, 0.5f, 1.5f, 0.6f},  // cat, clipped to the frame
  };
  std::memcpy(out.ptr<float>(), rows, sizeof rows);
  auto dets = decode_ssd(out, cm, {200, 100}, 0.2f);
  ASSERT_TRUE(dets) << dets.error().message;
  ASSERT_EQ(dets->size(), 2u);
  EXPECT_EQ((*dets)[0].label, "cat");
  EXPECT_NEAR((*dets)[0].box.width, 100, 1e-3);
  EXPECT_EQ((*dets)[1].label, "no_hat");
  EXPECT_NEAR((*dets)[1].box.x, 20, 1e-3);
  EXPECT_NEAR((*dets)[1].box.y, 20, 1e-3);
  EXPECT_NEAR((*dets)[1].box.height, 40, 1e-3);
}

// the fixture script writes a real ONNX file; python3-onnx is in scripts/install-deps.sh
fs::path tiny_model(const std::string& kind, const std::string& layout, int classes) {
  const fs::path dir = fs::temp_directory_path() / ("mingchu-onnx-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path f = dir / (kind + "-" + layout + "-" + std::to_string(classes) + ".onnx");
  if (fs::exists(f)) return f;
  const std::string cmd = "/usr/bin/python3 " MINGCHU_SOURCE_DIR "/tests/fixtures/vision/make_tiny_onnx.py " +
                          f.string() + " " + std::to_string(classes) + " " + kind + " " + layout;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return f;
}

cv::Mat square_frame(bool with_square) {
  cv::Mat f(360, 640, CV_8UC3, cv::Scalar(40, 50, 60));
  if (with_square) cv::rectangle(f, cv::Rect(160, 100, 160, 160), cv::Scalar(255, 255, 255), cv::FILLED);
  return f;
}

void expect_square(const std::vector<Detection>& dets) {
  ASSERT_FALSE(dets.empty());
  const cv::Rect2f sq(160, 100, 160, 160);  // whole cells of the yolov5 letterbox (80 px)
  cv::Rect2f all = dets[0].box;
  for (const auto& d : dets) {
    EXPECT_EQ(d.label, "no_hat");
    EXPECT_GT(d.score, 0.9f);
    // every box lies in the square (a cell is 10 px of the frame; rounding of the letterbox)
    EXPECT_GE((d.box & sq).area(), 0.8f * d.box.area()) << d.box;
    all |= d.box;
  }
  EXPECT_GE((all & sq).area(), 0.5f * sq.area()) << all;  // ssd: 45 px cell rows, two whole ones
}

TEST(VisionCustom, TinyYolov5OnnxFindsTheSquareAndNothingElse) {
  for (const std::string layout : {"NCHW", "NHWC"}) {
    SCOPED_TRACE(layout);
    ClassMap cm = two_labels("yolov5");
    cm.layout = layout;
    const fs::path f = tiny_model("square", layout, 2);
    ASSERT_TRUE(check_onnx(f, cm)) << check_onnx(f, cm).error().message;
    auto det = load_onnx_detector(f, cm, "mdl_1", "hats", "3");
    ASSERT_TRUE(det) << det.error().message;
    EXPECT_EQ((*det)->name(), "hats");
    EXPECT_EQ((*det)->id(), "mdl_1");
    auto hit = (*det)->detect(square_frame(true), 0);
    ASSERT_TRUE(hit) << hit.error().message;
    expect_square(*hit);
    auto none = (*det)->detect(square_frame(false), 0);
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
  }
}

TEST(VisionCustom, TinySsdOnnxFindsTheSquare) {
  ClassMap cm = two_labels("ssd");
  const fs::path f = tiny_model("square-ssd", "NCHW", 1);
  ASSERT_TRUE(check_onnx(f, cm));
  auto det = load_onnx_detector(f, cm, "mdl_2", "hats", "1");
  ASSERT_TRUE(det) << det.error().message;
  auto hit = (*det)->detect(square_frame(true), 0);
  ASSERT_TRUE(hit) << hit.error().message;
  expect_square(*hit);
  EXPECT_TRUE((*det)->detect(square_frame(false), 0)->empty());
}

TEST(VisionCustom, UploadCheckRefusesAnOutputThatIsNotTheDeclaredFormat) {
  ClassMap yolo = two_labels("yolov5");
  ClassMap ssd = two_labels("ssd");
  const fs::path y = tiny_model("square", "NCHW", 2), s = tiny_model("square-ssd", "NCHW", 1);
  auto a = check_onnx(s, yolo);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, "output_shape_mismatch");
  EXPECT_NE(a.error().message.find("[1, 1, 64, 7]"), std::string::npos) << a.error().message;
  auto b = check_onnx(y, ssd);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, "output_shape_mismatch");
  // NHWC declared for an NCHW network: it cannot run on that input
  ClassMap nhwc = yolo;
  nhwc.layout = "NHWC";
  auto c = check_onnx(y, nhwc);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, "model_unrunnable");
  // a file that is not the uploaded one is refused at load
  EXPECT_FALSE(load_onnx_detector(y, yolo, "m", "hats", "1", std::string(64, '0')));
}

TEST(VisionCustom, ClassMapTakesTheFormatsAndLayoutsAndNothingElse) {
  auto any = [](const std::string&) { return true; };
  const std::string base = "name = \"hats\"\n";
  const std::string labels = "[[labels]]\nname = \"x\"\nalert_type = \"no_hat\"\n";
  auto ok = parse_classmap(base + "format = \"ssd\"\n[input]\nlayout = \"NHWC\"\n" + labels, any);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->format, "ssd");
  EXPECT_EQ(ok->layout, "NHWC");
  auto bad_fmt = parse_classmap(base + "format = \"yolov8\"\n" + labels, any);
  ASSERT_FALSE(bad_fmt);
  EXPECT_EQ(bad_fmt.error().field, "classmap.format");
  auto bad_layout = parse_classmap(base + "[input]\nlayout = \"CHWN\"\n" + labels, any);
  ASSERT_FALSE(bad_layout);
  EXPECT_EQ(bad_layout.error().field, "classmap.input.layout");
}

TEST(VisionCustom, AnalyserRunsTheCamerasModelsAndNamesTheModelInTheAlert) {
  ClassMap cm = two_labels("yolov5");
  auto det = load_onnx_detector(tiny_model("square", "NCHW", 2), cm, "mdl_7", "hats", "3");
  ASSERT_TRUE(det) << det.error().message;
  VisionConfig cfg;
  int asked_other = 0;
  Analyser an(
      [&](const std::string& id) -> Detector* {
        if (id == "mdl_7") return det->get();
        ++asked_other;
        return nullptr;
      },
      cfg);
  CameraTarget cam;
  cam.id = "cam1";
  cam.unit_id = "u1";
  cam.ai = default_camera_ai();
  cam.ai.models = {"mdl_7", "gone"};
  cam.ai.motion = false;
  std::vector<ingest::AlertEvent> events;
  for (int i = 0; i < 4; ++i) {
    Frame f{square_frame(i >= 1), 1'700'000'000'000 + i * 500, true};
    auto out = an.analyse(cam, f);
    EXPECT_FALSE(out.error) << out.error->message;
    EXPECT_EQ(out.missing_models, std::vector<std::string>{"gone"});
    for (auto& e : out.events) events.push_back(std::move(e));
  }
  EXPECT_EQ(asked_other, 4);
  // no_hat is raised by the label's alert type after k = 2 of 3 frames, once (cooldown)
  ASSERT_EQ(events.size(), 1u);
  const auto& e = events[0];
  EXPECT_EQ(e.type, "no_hat");
  EXPECT_EQ(e.model, "hats@3");
  EXPECT_EQ(e.event_id, "vision:cam1:mdl_7:no_hat:" + std::to_string(1'700'000'000'000 + 2 * 500));
  ASSERT_FALSE(e.boxes.empty());
  EXPECT_EQ(e.boxes[0].label, "no_hat");
  // the camera's settings for the type apply: disabled, nothing
  CameraAi off = cam.ai;
  off.types["no_hat"].enabled = false;
  off.types["no_hat"].labels = {"whatever"};
  auto rules = custom_model_rules(off, (*det)->raises());
  ASSERT_EQ(rules.types.size(), 2u);  // no_hat and animal (the class map's two types)
  EXPECT_FALSE(rules.types.at("no_hat").enabled);
  EXPECT_EQ(rules.types.at("no_hat").labels, std::vector<std::string>{"no_hat"});
  EXPECT_EQ(rules.types.at("animal").labels, std::vector<std::string>{"cat"});
  EXPECT_FLOAT_EQ(rules.types.at("animal").min_score, 0.5f);  // the camera's animal rule
}

}  // namespace
}  // namespace mingchu::vision

namespace mingchu::vision {
namespace {

Detection person(float x) {
  Detection d;
  d.label = "person";
  d.score = 0.9f;
  d.box = {x, 100, 60, 180};
  return d;
}

TEST(VisionRoster, OnShiftCountsDistinctStaffAndWrapsPastMidnight) {
  auto r = parse_roster(*parse_value(R"([
    {"days": [1, 2, 3, 4, 5], "from": "06:00", "to": "14:00", "staff_ids": ["a", "b"]},
    {"days": [1, 2, 3, 4, 5], "from": "10:00", "to": "20:00", "staff_ids": ["b", "c"]},
    {"days": [5], "from": "22:00", "to": "02:00", "staff_ids": ["d"]}])"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->on_shift(1, 5 * 60), 0);
  EXPECT_EQ(r->on_shift(1, 7 * 60), 2);
  EXPECT_EQ(r->on_shift(1, 11 * 60), 3);  // a, b, c (b once)
  EXPECT_EQ(r->on_shift(1, 14 * 60), 2);  // the first shift ends at 14:00
  EXPECT_EQ(r->on_shift(6, 11 * 60), 0);  // Saturday
  EXPECT_EQ(r->on_shift(5, 23 * 60), 1);  // Friday night
  EXPECT_EQ(r->on_shift(6, 60), 1);       // ... into Saturday
  EXPECT_EQ(r->on_shift(5, 60), 0);       // Friday 01:00 belongs to Thursday's night: none
  EXPECT_EQ(roster_to_json(*r)[2].as_object().at("from").as_string(), "22:00");
  const char* bad[][2] = {
      {R"({"days": [1]})", "shifts"},
      {R"([{"days": [], "from": "06:00", "to": "07:00", "staff_ids": []}])", "shifts[0].days"},
      {R"([{"days": [8], "from": "06:00", "to": "07:00", "staff_ids": []}])", "shifts[0].days"},
      {R"([{"days": [1, 1], "from": "06:00", "to": "07:00", "staff_ids": []}])", "shifts[0].days"},
      {R"([{"days": [1], "from": "06:00", "to": "06:00", "staff_ids": []}])", "shifts[0].from"},
      {R"([{"days": [1], "from": "25:00", "to": "06:00", "staff_ids": []}])", "shifts[0].from"},
      {R"([{"days": [1], "from": "06:00", "to": "07:00", "staff_ids": [3]}])", "shifts[0].staff_ids"},
      {R"([{"days": [1], "from": "06:00", "to": "07:00", "staff_ids": [], "x": 1}])", "shifts[0].x"},
  };
  for (const auto& [text, field] : bad) {
    auto b = parse_roster(*parse_value(text));
    ASSERT_FALSE(b) << text;
    EXPECT_EQ(b.error().field, field) << text;
  }
}

TEST(VisionRoster, StrangerFiresOnMorePeopleThanStaffOnShiftInsteadOfTheSchedule) {
  CameraAi cfg = default_camera_ai();
  cfg.types["stranger"].k = 1;
  cfg.types["stranger"].n = 1;
  cfg.types["stranger"].cooldown_s = 0;
  RuleState st;
  const std::vector<Detection> two = {person(10), person(200)};
  const int noon = 12 * 60;
  // without a roster: the schedule (22:00-06:00) says no at noon
  EXPECT_TRUE(apply_rules(cfg, two, {640, 360}, 1000, noon, st).empty());
  // two people, two on shift: nothing; one on shift: stranger with both boxes
  cfg.people_allowed = 2;
  EXPECT_TRUE(apply_rules(cfg, two, {640, 360}, 2000, noon, st).empty());
  cfg.people_allowed = 1;
  auto f = apply_rules(cfg, two, {640, 360}, 3000, noon, st);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].type, "stranger");
  EXPECT_EQ(f[0].boxes.size(), 2u);
  // nobody on shift at night: one person is enough
  cfg.people_allowed = 0;
  EXPECT_EQ(apply_rules(cfg, {person(10)}, {640, 360}, 4000, 23 * 60, st).size(), 1u);
}

}  // namespace
}  // namespace mingchu::vision
