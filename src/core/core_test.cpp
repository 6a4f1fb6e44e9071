#include <gtest/gtest.h>

#include "core/json.hpp"
#include "core/metrics.hpp"
#include "core/text.hpp"
#include "core/time.hpp"

namespace mingchu {
namespace {

TEST(Time, FormatsAndParsesRfc3339) {
  auto t = parse_rfc3339("2026-11-22T08:30:00+08:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_rfc3339(*t), "2026-11-22T08:30:00+08:00");
  EXPECT_EQ(*parse_rfc3339("2026-11-22T00:30:00Z"), *t);
  EXPECT_EQ(*parse_rfc3339("2026-11-22T00:30:00.250Z") - *t, 250);
  EXPECT_EQ(format_rfc3339(*t + 250, 0), "2026-11-22T00:30:00.250+00:00");
  for (const char* bad : {"", "2026-11-22", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-22T25:00:00Z",
                          "2026-11-22T08:30:00", "2026-11-22T08:30:00+8:00", "2026-11-22T08:30:00Zjunk"}) {
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  }
}

TEST(Time, DatesRoundTrip) {
  auto d = parse_date("2026-02-28");
  ASSERT_TRUE(d);
  EXPECT_EQ(format_date(*d + 1), "2026-03-01");
  EXPECT_FALSE(parse_date("2026-02-29"));
  EXPECT_TRUE(parse_date("2024-02-29"));
  EXPECT_EQ(local_day(*parse_rfc3339("2026-11-22T23:59:59+08:00")), *parse_date("2026-11-22"));
  EXPECT_EQ(local_day(*parse_rfc3339("2026-11-22T16:00:00Z")), *parse_date("2026-11-23"));
}

TEST(Json, MalformedAndNonObjectBodies) {
  EXPECT_EQ(parse_object("{").error().code, "malformed_json");
  EXPECT_EQ(parse_object("").error().code, "empty_body");
  EXPECT_EQ(parse_object("[1]").error().code, "not_an_object");
  std::string deep(100, '[');
  EXPECT_EQ(parse_object("{\"a\":" + deep).error().kind, ErrorKind::kMalformed);
}

TEST(Json, ReaderNamesTheField) {
  auto o = parse_object(R"({"name": 5, "n": "x", "extra": 1})");
  ASSERT_TRUE(o);
  ObjectReader rd(*o);
  rd.opt_string("name");
  auto st = rd.finish();
  EXPECT_EQ(st.error().field, "name");
  EXPECT_EQ(st.error().code, "wrong_type");

  ObjectReader rd2(*o);
  rd2.allow("name");
  rd2.allow("n");
  EXPECT_EQ(rd2.finish().error().field, "extra");
  EXPECT_EQ(rd2.finish().error().code, "unknown_field");

  auto p = parse_object(R"({"s": "a\u0000b", "long": "xxxxxxxxxx", "i": 3.5, "r": 99})");
  ObjectReader rd3(*p);
  rd3.opt_string("s");
  EXPECT_EQ(rd3.finish().error().code, "control_characters");
  ObjectReader rd4(*p);
  rd4.opt_string("long", 5);
  EXPECT_EQ(rd4.finish().error().code, "too_long");
  ObjectReader rd5(*p);
  rd5.opt_int("i", 0, 10);
  EXPECT_EQ(rd5.finish().error().code, "wrong_type");
  ObjectReader rd6(*p);
  rd6.opt_int("r", 0, 10);
  EXPECT_EQ(rd6.finish().error().code, "out_of_range");
  ObjectReader rd7(*p);
  rd7.req_string("missing");
  EXPECT_EQ(rd7.finish().error().code, "missing_field");
}

TEST(Json, Utf8LengthCountsCodePoints) { EXPECT_EQ(utf8_length("明厨亮灶"), 4u); }

TEST(Metrics, RendersPrometheusText) {
  Metrics m;
  m.counter("x_total", "a=\"1\"", "help").inc(3);
  m.histogram("lat_seconds", "", "h").observe(0.003);
  std::string s = m.render();
  EXPECT_NE(s.find("x_total{a=\"1\"} 3"), std::string::npos);
  EXPECT_NE(s.find("lat_seconds_bucket{le=\"0.005\"} 1"), std::string::npos);
  EXPECT_NE(s.find("lat_seconds_bucket{le=\"0.0025\"} 0"), std::string::npos);
  EXPECT_NE(s.find("lat_seconds_count 1"), std::string::npos);
}

TEST(ManualClock, AdvancesOnlyForward) {
  ManualClock c(true);
  TimeMs t0 = c.now_ms();
  c.advance_ms(kDayMs);
  EXPECT_EQ(c.now_ms() - t0, kDayMs);
}

}  // namespace
}  // namespace mingchu

namespace mingchu {
TEST(Text, SplitNonemptySkipsEmptyPieces) {
  EXPECT_EQ(split_nonempty("/a/bc//d/", '/'), (std::vector<std::string>{"a", "bc", "d"}));
  EXPECT_EQ(split_nonempty("alerts,stats", ','), (std::vector<std::string>{"alerts", "stats"}));
  EXPECT_TRUE(split_nonempty("", ',').empty());
  EXPECT_TRUE(split_nonempty("///", '/').empty());
}
}  // namespace mingchu
