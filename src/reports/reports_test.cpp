#include <cairo.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/clock.hpp"
#include "core/time.hpp"
#include "reports/documents.hpp"
#include "reports/pdf_canvas.hpp"
#include "reports/report_service.hpp"

namespace mingchu::reports {
namespace {

// The text of a PDF as poppler's pdftotext reads it (what a reader's search finds).
std::string pdf_text(const std::string& pdf) {
  auto dir = std::filesystem::temp_directory_path();
  std::string path = (dir / ("mingchu_pdf_" + std::to_string(getpid()) + ".pdf")).string();
  {
    std::ofstream out(path, std::ios::binary);
    out << pdf;
  }
  std::string text;
  FILE* p = popen(("pdftotext -enc UTF-8 '" + path + "' - 2>&1").c_str(), "r");
  if (!p) return "";
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  pclose(p);
  std::filesystem::remove(path);
  return text;
}

std::string strip_spaces(std::string s) {
  std::string out;
  for (char c : s) {
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t' && c != '\f') out += c;
  }
  return out;
}

cairo_status_t to_string(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

std::string test_png(int w, int h) {
  cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  cairo_t* cr = cairo_create(s);
  cairo_set_source_rgb(cr, 0.3, 0.5, 0.4);
  cairo_paint(cr);
  cairo_destroy(cr);
  std::string out;
  cairo_surface_write_to_png_stream(s, to_string, &out);
  cairo_surface_destroy(s);
  return out;
}

NoticeData sample_notice() {
  NoticeData d;
  d.issuer.org = "南通市崇川区市场监督管理局";
  d.issuer.signature = "承办人：______";
  d.number = "明厨整改〔2026〕0000001号";
  d.unit_name = "南通市崇川区好味道餐馆";
  d.unit_address = "崇川区人民中路1号";
  d.unit_uscc = "91320602MA1XXXXX0X";
  d.alert_id = "alr_0001";
  d.alert_type = "未戴口罩";
  d.risk_class_name = "二类风险";
  d.occurred_at = "2026-11-22 08:30";
  d.last_seen_at = "2026-11-22 08:40";
  d.capture_count = 3;
  d.due_on = "2026-11-29";
  d.issued_on = "2026-11-22";
  d.qr_url = "http://127.0.0.1:8080/#/alerts/alr_0001";
  d.snapshots.push_back(Snapshot{test_png(640, 360), {Box{100, 80, 120, 90, "no_mask"}, Box{600, 300, 500, 500, "x"}}});
  d.snapshots.push_back(Snapshot{"not an image", {}});
  return d;
}

TEST(ReportsPdf, NoticeIsAPdfWhoseChineseTextIsSearchable) {
  std::string pdf = render_notice(sample_notice());
  ASSERT_GT(pdf.size(), 1000u);
  EXPECT_EQ(pdf.substr(0, 5), "%PDF-");
  std::string text = strip_spaces(pdf_text(pdf));
  EXPECT_NE(text.find("南通市崇川区好味道餐馆"), std::string::npos) << text;
  EXPECT_NE(text.find("整改通知书"), std::string::npos);
  EXPECT_NE(text.find("南通市崇川区市场监督管理局"), std::string::npos);
  EXPECT_NE(text.find("2026年11月29日"), std::string::npos);  // the deadline
  EXPECT_NE(text.find("抓拍图片无法显示"), std::string::npos);  // the broken snapshot says so
}

TEST(ReportsPdf, ImageSizeReadsPngAndJpegHeadersAndRefusesOthers) {
  auto png = image_size(test_png(33, 17));
  ASSERT_TRUE(png);
  EXPECT_EQ(png->width, 33);
  EXPECT_EQ(png->height, 17);
  EXPECT_FALSE(png->jpeg);
  // SOI, APP0 (len 16), SOF0 with height 0x0102 and width 0x0304
  std::string jpeg("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
                   "\xFF\xC0\x00\x11\x08\x01\x02\x03\x04\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01",
                   40);
  auto j = image_size(jpeg);
  ASSERT_TRUE(j);
  EXPECT_TRUE(j->jpeg);
  EXPECT_EQ(j->height, 0x0102);
  EXPECT_EQ(j->width, 0x0304);
  EXPECT_FALSE(image_size(""));
  EXPECT_FALSE(image_size("\xFF\xD8\xFF"));
  EXPECT_FALSE(image_size(std::string("\xFF\xD8\xFF\xC0\x00\x01", 6)));  // a segment shorter than its header
  EXPECT_FALSE(image_size("GIF89a........................"));
}

TEST(ReportsTemplates, DefaultsPassTheirOwnCheckAndFillIn) {
  for (const char* kind : {"rectification_order", "penalty_decision", "inquiry_notice", "supervision_letter"}) {
    auto t = default_template(kind);
    ASSERT_TRUE(t) << kind;
    EXPECT_FALSE(check_template_body(kind, t->body)) << kind;
  }
  EXPECT_FALSE(default_template("love_letter"));
  EXPECT_EQ(fill_template("{{unit_name}}：于{{due_on}}前{{nope}}", {{"unit_name", "甲店"}, {"due_on", ""}}),
            "甲店：于____前{{nope}}");
}

TEST(ReportsTemplates, AMissingOrUnknownPlaceholderIsNamed) {
  auto p = check_template_body("rectification_order", "{{unit_name}}：请于期限前整改{{alert_type}}。");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->code, "missing_placeholder");
  EXPECT_EQ(p->name, "due_on");
  p = check_template_body("rectification_order", "{{unit_name}}{{alert_type}}{{due_on}}{{unit_nmae}}");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->code, "unknown_placeholder");
  EXPECT_EQ(p->name, "unit_nmae");
  p = check_template_body("rectification_order", "{{unit_name}}{{alert_type}}{{due_on");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->code, "unclosed_placeholder");
}

TEST(ReportsTemplates, DocumentFromATemplateCarriesItsValues) {
  auto t = *default_template("penalty_decision");
  t.issuer.org = "南通市通州区市场监督管理局";
  std::string pdf = render_document(t, {{"unit_name", "通州区老街面馆"},
                                        {"number", "通市监罚〔2026〕7号"},
                                        {"alert_type", "老鼠出没"},
                                        {"occurred_at", "2026-11-02 21:10"},
                                        {"issued_on", "2026-11-20"}});
  std::string text = strip_spaces(pdf_text(pdf));
  EXPECT_NE(text.find("行政处罚决定书"), std::string::npos) << text;
  EXPECT_NE(text.find("通州区老街面馆"), std::string::npos);
  EXPECT_NE(text.find("通市监罚〔2026〕7号"), std::string::npos);
  EXPECT_NE(text.find("老鼠出没"), std::string::npos);
}

TEST(ReportsMonthly, PeriodChecksFormatLengthAndFuture) {
  TimeMs now = *parse_rfc3339("2026-12-01T10:00:00+08:00");
  auto p = month_period("2026-11", std::nullopt, 12, 480, now);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->label, "2026年11月");
  EXPECT_EQ(p->to - p->from, 30 * kDayMs);
  EXPECT_EQ(p->from, *parse_rfc3339("2026-11-01T00:00:00+08:00"));
  auto ten_years = month_period("2016-01", std::string("2025-12"), 12, 480, now);
  ASSERT_FALSE(ten_years);
  EXPECT_EQ(ten_years.error().code, "range_too_long");
  EXPECT_EQ(ten_years.error().field, "to_month");
  EXPECT_EQ(month_period("2026-13", std::nullopt, 12, 480, now).error().field, "month");
  EXPECT_EQ(month_period("26-11", std::nullopt, 12, 480, now).error().field, "month");
  EXPECT_EQ(month_period("2027-01", std::nullopt, 12, 480, now).error().code, "future_month");
  EXPECT_EQ(month_period("2026-11", std::string("2026-10"), 12, 480, now).error().code, "invalid_range");
  auto year = month_period("2025-12", std::string("2026-11"), 12, 480, now);
  ASSERT_TRUE(year);
  EXPECT_EQ(year->months, 12);
}

TEST(ReportsMonthly, ReportHasFiguresChartsAndLists) {
  MonthlyData m;
  m.issuer.org = "南通市市场监督管理局";
  m.jurisdiction_name = "南通市";
  m.period = "2026年11月";
  m.generated_at = "2026-12-01 08:00";
  m.units = 200;
  m.alerts_total = 345;
  m.handled = 300;
  m.previous_alerts_total = 300;
  for (int d = 1; d <= 30; ++d) m.by_day.push_back(NamedCount{std::to_string(d), d * 3});
  m.by_type = {{"未戴口罩", 200}, {"老鼠出没", 45}};
  m.by_risk_class = {{"一类风险", 45}, {"二类风险", 300}, {"三类风险", 0}};
  m.areas = {{"崇川区", 80, 150, 140}, {"通州区", 60, 100, 90}};
  m.top_units = {{"崇川区好味道餐馆", 30}};
  for (int i = 0; i < 80; ++i) m.overdue.push_back(OverdueRow{"通州区老街面馆" + std::to_string(i), "老鼠出没", "2026-11-02 21:10", "2026-11-09", 22, "红牌"});
  m.overdue_total = 120;
  std::string pdf = render_monthly(m);
  std::string text = strip_spaces(pdf_text(pdf));
  EXPECT_NE(text.find("南通市市场监督管理局"), std::string::npos) << text.substr(0, 400);
  EXPECT_NE(text.find("上升15.0%"), std::string::npos);
  EXPECT_NE(text.find("通州区老街面馆79"), std::string::npos);  // the long list flows onto later pages
  EXPECT_NE(text.find("共120起"), std::string::npos);
  EXPECT_NE(text.find("—3—"), std::string::npos);  // page numbers
}

}  // namespace
}  // namespace mingchu::reports
