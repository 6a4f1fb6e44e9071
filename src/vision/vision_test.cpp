#include <cmath>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "vision/detector.hpp"
#include "vision/evaluate.hpp"
#include "vision/motion.hpp"
#include "vision/rules.hpp"

namespace mingchu::vision {
namespace {

TEST(VisionSsd, ZeroEncodingGivesTheAnchor) {
  const float enc[4] = {0, 0, 0, 0};
  const float anchor[4] = {0.1f, 0.2f, 0.5f, 0.6f};  // ymin xmin ymax xmax
  const float scales[4] = {10, 10, 5, 5};
  auto r = decode_ssd_box(enc, anchor, scales);
  EXPECT_NEAR(r.x, 0.2f, 1e-6);
  EXPECT_NEAR(r.y, 0.1f, 1e-6);
  EXPECT_NEAR(r.width, 0.4f, 1e-6);
  EXPECT_NEAR(r.height, 0.4f, 1e-6);
}

TEST(VisionSsd, BoxCoderScalesShiftAndGrow) {
  // ty = 10 moves the centre by one anchor height; th = 5*ln 2 doubles the height
  const float enc[4] = {10, -10, 5 * std::log(2.0f), 0};
  const float anchor[4] = {0.2f, 0.2f, 0.4f, 0.4f};
  const float scales[4] = {10, 10, 5, 5};
  auto r = decode_ssd_box(enc, anchor, scales);
  EXPECT_NEAR(r.y + r.height / 2, 0.5f, 1e-5);
  EXPECT_NEAR(r.x + r.width / 2, 0.1f, 1e-5);
  EXPECT_NEAR(r.height, 0.4f, 1e-5);
  EXPECT_NEAR(r.width, 0.2f, 1e-5);
}

Detection det(int cls, float score, float x, float y, float w, float h) {
  Detection d;
  d.class_id = cls;
  d.label = std::to_string(cls);
  d.score = score;
  d.box = {x, y, w, h};
  return d;
}

TEST(VisionSsd, NmsIsPerClass) {
  std::vector<Detection> in = {det(1, 0.9f, 0, 0, 100, 100), det(1, 0.8f, 5, 5, 100, 100), det(2, 0.7f, 5, 5, 100, 100),
                               det(1, 0.6f, 300, 300, 50, 50)};
  auto out = nms_per_class(in, 0.5f, 100);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_FLOAT_EQ(out[0].score, 0.9f);
  EXPECT_EQ(out[1].class_id, 2);  // overlaps the person box but is another class
  EXPECT_FLOAT_EQ(out[2].score, 0.6f);
  EXPECT_EQ(nms_per_class(in, 0.5f, 1).size(), 1u);
}

TEST(VisionEval, YoloLabelsParseAndRefuseGarbage) {
  auto ok = parse_yolo_labels("0 0.5 0.5 0.5 0.25\n\n1 0.25 0.25 0.1 0.1\r\n", 2, 200, 100);
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_FLOAT_EQ((*ok)[0].box.x, 50);
  EXPECT_FLOAT_EQ((*ok)[0].box.y, 37.5f);
  EXPECT_FLOAT_EQ((*ok)[0].box.width, 100);
  for (const char* bad : {"2 0.5 0.5 0.1 0.1", "0 0.5 0.5 0.1", "x 0.5 0.5 0.1 0.1", "0 1.5 0.5 0.1 0.1",
                          "0 0.5 0.5 0 0.1", "0 nan 0.5 0.1 0.1", "-1 0.5 0.5 0.1 0.1", "0 0.5 0.5 0.1 0.1 7"}) {
    auto r = parse_yolo_labels(bad, 2, 200, 100);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, "bad_label_line");
    }
  }
}

TEST(VisionEval, FiguresFromAHandMadeCase) {
  // two images; class 0 has 3 truths: found at 0.9 (tp), 0.8 (fp, wrong place), 0.4 (tp),
  // one never found
  ScoredImage a, b;
  a.truth = {{0, {0, 0, 100, 100}}, {0, {200, 0, 100, 100}}};
  b.truth = {{0, {0, 0, 50, 50}}};
  a.detections = {
      {0, det(0, 0.9f, 2, 2, 100, 100)}, {0, det(0, 0.8f, 400, 400, 50, 50)}, {1, det(1, 0.99f, 0, 0, 10, 10)}};
  b.detections = {{0, det(0, 0.4f, 0, 0, 50, 52)}};
  EvalOptions opt;
  opt.score = 0.5f;
  auto f = score_images({"a", "b"}, {a, b}, opt);
  EXPECT_EQ(f["a"].tp, 1);
  EXPECT_EQ(f["a"].fp, 1);
  EXPECT_EQ(f["a"].fn, 2);
  EXPECT_DOUBLE_EQ(f["a"].precision, 0.5);
  EXPECT_NEAR(f["a"].recall, 1.0 / 3, 1e-9);
  // curve: (p 1, r 1/3), (p 1/2, r 1/3), (p 2/3, r 2/3) -> interpolated 1*1/3 + 2/3*1/3
  EXPECT_NEAR(f["a"].ap50, 1.0 / 3 + 2.0 / 9, 1e-9);
  // class b has no truth and one detection: all false positives
  EXPECT_EQ(f["b"].fp, 1);
  EXPECT_DOUBLE_EQ(f["b"].precision, 0.0);
}

// The shipped model on the shipped evaluation set (tests/fixtures/vision/eval, made by
// scripts/make_vision_eval_set.py). The thresholds are the figures measured with Debian's
// OpenCV 4.6 when the set was made (README, docs/vision.md); a change of the converter, the
// decoder or the NMS that loses detections fails here.
TEST(VisionEval, ShippedModelDoesNotRegressOnTheShippedSet) {
  auto d = load_coco_ssd(default_model_dir());
  ASSERT_TRUE(d.ok()) << d.error().message << " (scripts/install-deps.sh installs the model)";
  EXPECT_EQ((*d)->name(), "coco-ssdlite");
  EvalOptions opt;
  opt.score = 0.5f;
  auto rep = evaluate(**d, std::filesystem::path(MINGCHU_SOURCE_DIR) / "tests/fixtures/vision/eval", opt);
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  EXPECT_EQ(rep->images, 30u);
  const auto& c = rep->classes;
  ASSERT_EQ(c.size(), 3u);
  // measured: cat 1.000/1.000/1.000 6/0/0, cup 1.000/0.571/0.837 4/0/3, person 1.000/0.538/0.986 7/0/6
  EXPECT_GE(c.at("cat").recall, 1.0);
  EXPECT_GE(c.at("cat").precision, 1.0);
  EXPECT_GE(c.at("cat").ap50, 0.99);
  EXPECT_GE(c.at("cup").tp, 4);
  EXPECT_LE(c.at("cup").fp, 0);
  EXPECT_GE(c.at("cup").ap50, 0.83);
  EXPECT_GE(c.at("person").tp, 7);
  EXPECT_LE(c.at("person").fp, 0);
  EXPECT_GE(c.at("person").ap50, 0.98);
}

TEST(VisionEval, EmptyFramesGiveNoDetectionsOfTheSetsClasses) {
  auto d = load_coco_ssd(default_model_dir());
  ASSERT_TRUE(d.ok()) << d.error().message;
  // frames 000..009 of the set are empty backgrounds
  for (int i = 0; i < 10; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "%03d.jpg", i);
    cv::Mat img = cv::imread(std::string(MINGCHU_SOURCE_DIR) + "/tests/fixtures/vision/eval/images/" + name);
    ASSERT_FALSE(img.empty()) << name;
    auto r = (*d)->detect(img, 0.5f);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->empty()) << name << ": " << (r->empty() ? "" : r->front().label);
  }
}

TEST(VisionEval, BadDataSetsAreRefusedWithTheReason) {
  auto d = load_coco_ssd(default_model_dir());
  ASSERT_TRUE(d.ok()) << d.error().message;
  auto r = evaluate(**d, "/nonexistent-mingchu-dataset", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "no_classes");
  auto missing = load_coco_ssd("/nonexistent-mingchu-models");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "model_missing");
}

// ---------------------------------------------------------------- rules

Detection box(const char* label, float score, float x, float y, float w, float h) {
  Detection d = det(0, score, x, y, w, h);
  d.label = label;
  return d;
}

TEST(VisionRules, KOfNThenCooldown) {
  CameraAi c = default_camera_ai();  // animal: k 2 of n 3, cooldown 300 s
  RuleState st;
  const cv::Size frame(640, 360);
  std::vector<Detection> cat = {box("cat", 0.9f, 100, 100, 100, 80)};
  TimeMs t = 1'000'000;
  EXPECT_TRUE(apply_rules(c, cat, frame, t, 720, st).empty()) << "one frame is not enough";
  EXPECT_TRUE(apply_rules(c, {}, frame, t += 500, 720, st).empty());
  auto f = apply_rules(c, cat, frame, t += 500, 720, st);
  ASSERT_EQ(f.size(), 1u) << "2 of the last 3";
  EXPECT_EQ(f[0].type, "animal");
  EXPECT_FLOAT_EQ(f[0].score, 0.9f);
  EXPECT_TRUE(apply_rules(c, cat, frame, t += 500, 720, st).empty()) << "cooldown";
  EXPECT_EQ(apply_rules(c, cat, frame, t + 301'000, 720, st).size(), 1u) << "after the cooldown";
}

TEST(VisionRules, ScoreAreaAspectZoneAndSchedule) {
  auto known = [](const std::string& code) { return code == "animal" || code == "stranger" || code == "phone_use"; };
  auto parsed = parse_object(R"({"types": {"animal": {"k": 1, "n": 1, "min_area": 0.01, "max_aspect": 3,
      "zones": [[[0, 0.5], [1, 0.5], [1, 1], [0, 1]]]}, "stranger": {"k": 1, "n": 1}}})");
  ASSERT_TRUE(parsed.ok());
  auto c = parse_camera_ai(*parsed, known);
  ASSERT_TRUE(c.ok()) << c.error().message;
  const cv::Size frame(100, 100);
  auto fires = [&](std::vector<Detection> d, int minute = 720) {
    RuleState st;
    return apply_rules(*c, d, frame, 1'000'000, minute, st);
  };
  EXPECT_EQ(fires({box("dog", 0.8f, 10, 60, 20, 20)}).size(), 1u);
  EXPECT_TRUE(fires({box("dog", 0.4f, 10, 60, 20, 20)}).empty()) << "below min_score";
  EXPECT_TRUE(fires({box("dog", 0.8f, 10, 60, 5, 5)}).empty()) << "area below min_area";
  EXPECT_TRUE(fires({box("dog", 0.8f, 0, 60, 80, 20)}).empty()) << "aspect 4 > 3";
  EXPECT_TRUE(fires({box("dog", 0.8f, 10, 10, 20, 20)}).empty()) << "feet outside the zone";
  EXPECT_TRUE(fires({box("horse", 0.9f, 10, 60, 20, 20)}).empty()) << "not a label of the type";
  // stranger: a person only while the kitchen is closed (22:00-06:00)
  EXPECT_TRUE(fires({box("person", 0.9f, 10, 10, 20, 60)}, 12 * 60).empty());
  ASSERT_EQ(fires({box("person", 0.9f, 10, 10, 20, 60)}, 23 * 60).size(), 1u);
  EXPECT_EQ(fires({box("person", 0.9f, 10, 10, 20, 60)}, 5 * 60)[0].type, "stranger");
}

TEST(VisionRules, PhoneCountsOnlyInAPersonsHands) {
  CameraAi c = default_camera_ai();
  c.types["phone_use"].k = 1;
  c.types["phone_use"].n = 1;
  c.types.erase("stranger");
  const cv::Size frame(640, 360);
  RuleState a, b;
  std::vector<Detection> held = {box("person", 0.8f, 100, 50, 150, 300), box("cell phone", 0.7f, 150, 150, 20, 30)};
  std::vector<Detection> on_table = {box("person", 0.8f, 100, 50, 150, 300), box("cell phone", 0.7f, 400, 300, 20, 30)};
  EXPECT_EQ(apply_rules(c, held, frame, 1, 720, a).size(), 1u);
  EXPECT_TRUE(apply_rules(c, on_table, frame, 1, 720, b).empty());
}

TEST(VisionRules, SettingsRefuseBadInputNamingTheField) {
  auto known = [](const std::string& code) { return code == "animal"; };
  auto field = [&](const char* text) {
    auto o = parse_object(text);
    if (!o) return std::string("unparsed");
    auto c = parse_camera_ai(*o, known);
    return c.ok() ? std::string("ok") : c.error().field;
  };
  EXPECT_EQ(field(R"({"types": {"animal": {"min_score": 0.6}}})"), "ok");
  EXPECT_EQ(field(R"({"types": {"rodentx": {}}})"), "types.rodentx");
  EXPECT_EQ(field(R"({"types": {"animal": {"k": 4, "n": 3}}})"), "types.animal.k");
  EXPECT_EQ(field(R"({"types": {"animal": {"schedule": ["7:00-9:00"]}}})"), "types.animal.schedule");
  EXPECT_EQ(field(R"({"types": {"animal": {"zones": [[[0,0],[1,0]]]}}})"), "types.animal.zones");
  EXPECT_EQ(field(R"({"types": {"animal": {"labels": []}}})"), "types.animal.labels");
  EXPECT_EQ(field(R"({"motion": {"masks": "all"}})"), "motion.masks");
  EXPECT_EQ(field(R"({"rate": 100})"), "rate");
  EXPECT_EQ(field(R"({"other": 1})"), "other");
  EXPECT_TRUE(in_schedule({{22 * 60, 6 * 60}}, 23 * 60));
  EXPECT_TRUE(in_schedule({{22 * 60, 6 * 60}}, 0));
  EXPECT_FALSE(in_schedule({{22 * 60, 6 * 60}}, 6 * 60));
  EXPECT_TRUE(in_schedule({}, 0));
}

// ---------------------------------------------------------------- motion

TEST(VisionMotion, StillSceneIsQuietAMovingObjectIsSeenAndMasksHideIt) {
  cv::Mat wall(360, 640, CV_8UC3, cv::Scalar(200, 200, 200));
  MotionDetector m;
  EXPECT_EQ(m.update(wall).size(), 1u) << "the first frame is all motion";
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(m.update(wall).empty());
  cv::Mat cat = wall.clone();
  cv::rectangle(cat, cv::Rect(400, 200, 120, 100), cv::Scalar(40, 60, 90), cv::FILLED);
  auto moved = m.update(cat);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_GE((moved[0] & cv::Rect(400, 200, 120, 100)).area(), 120 * 100 * 8 / 10);
  MotionDetector masked;
  masked.set_masks({{{0.5f, 0.4f}, {1.0f, 0.4f}, {1.0f, 1.0f}, {0.5f, 1.0f}}});
  masked.update(wall);
  masked.update(wall);
  EXPECT_TRUE(masked.update(cat).empty()) << "motion inside the mask does not count";
}

}  // namespace
}  // namespace mingchu::vision
