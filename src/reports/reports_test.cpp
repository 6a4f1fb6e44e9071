#include <cairo.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "core/clock.hpp"
#include "core/time.hpp"
#include "reports/documents.hpp"
#include "reports/export.hpp"
#include "reports/schedules.hpp"
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

TEST(ReportsPdf, UnitArchiveListsItsParts) {
  UnitArchiveData d;
  d.issuer.org = "南通市崇川区市场监督管理局";
  d.generated_at = "2026-12-01 08:00";
  d.fields = {{"单位名称", "濠河人家（12号店）"}, {"统一社会信用代码", "91320602MA1XXXXX0X"}};
  d.cameras = {{{"后厨1", "烹饪区", "在线", "2026-12-01 07:59"}}};
  d.staff = {{{"张*", "厨师", "3206**********1234", "JK001", "2027-01-01", "有效"}}};
  d.alerts_90d = 12;
  d.alerts_by_type = {{"后厨吸烟", 7}, {"未戴口罩", 5}};
  d.qr_url = "http://127.0.0.1:8080/public/units/tok";
  std::string text = strip_spaces(pdf_text(render_unit_archive(d)));
  EXPECT_NE(text.find("餐饮服务单位档案"), std::string::npos) << text;
  EXPECT_NE(text.find("濠河人家（12号店）"), std::string::npos);
  EXPECT_NE(text.find("3206**********1234"), std::string::npos);
  EXPECT_NE(text.find("近90日共产生预警12起"), std::string::npos);
}

TEST(ReportsExport, CsvFieldsAreQuotedAndFormulasDefused) {
  EXPECT_EQ(csv_field("plain", CellKind::kText), "plain");
  EXPECT_EQ(csv_field("a,b", CellKind::kText), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\"", CellKind::kText), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("line\nbreak", CellKind::kText), "\"line\nbreak\"");
  EXPECT_EQ(csv_field("=1+1", CellKind::kText), "'=1+1");
  EXPECT_EQ(csv_field("@SUM(A1)", CellKind::kText), "'@SUM(A1)");
  EXPECT_EQ(csv_field("-5", CellKind::kNumber), "-5");  // a number stays a number
  EXPECT_EQ(csv_field("=HYPERLINK(\"x\",\"y\")", CellKind::kText), "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"");
}

namespace {
// Drains a job like the HTTP connection does; the bytes.
std::string drain(ExportJob& job) {
  std::string out;
  for (;;) {
    auto p = job.read();
    if (!p) return out;
    if (p->empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    out += *p;
  }
}
}  // namespace

TEST(ReportsExport, CsvAndXlsxStreamEveryRowInBoundedPieces) {
  ExportOptions o;
  o.piece_bytes = 4096;
  o.queue_pieces = 2;
  ExportService svc(o, nullptr);
  std::vector<Column> cols = {{"编号", CellKind::kText, 10}, {"名称", CellKind::kText, 20}, {"数量", CellKind::kNumber, 8}};
  auto producer = [](RowWriter& w) -> Status {
    for (int i = 0; i < 20000; ++i) {
      if (!w.add({"id" + std::to_string(i), "单位" + std::to_string(i), std::to_string(i)})) break;
    }
    return ok_status();
  };
  ExportStats seen;
  auto job = svc.start(ExportFormat::kCsv, "表", cols, producer, [&](const ExportStats& st) { seen = st; });
  ASSERT_TRUE(job);
  std::string csv = drain(**job);
  EXPECT_FALSE((*job)->failed());
  EXPECT_EQ(csv.substr(0, 3), "\xEF\xBB\xBF");
  size_t lines = 0;
  for (char ch : csv) lines += ch == '\n';
  EXPECT_EQ(lines, 20001u);
  svc.wait_idle(std::chrono::seconds(10));
  EXPECT_EQ(seen.rows, 20000);
  auto x = svc.start(ExportFormat::kXlsx, "表", cols, producer, nullptr);
  ASSERT_TRUE(x);
  std::string xlsx = drain(**x);
  EXPECT_EQ(xlsx.substr(0, 2), "PK");
  EXPECT_FALSE((*x)->failed());
  // the end-of-central-directory record names as many entries as the parts (5) and the sheet
  ASSERT_GT(xlsx.size(), 22u);
  EXPECT_EQ(xlsx.substr(xlsx.size() - 22, 4), std::string("PK\x05\x06", 4));
  EXPECT_EQ(static_cast<unsigned char>(xlsx[xlsx.size() - 12]), 6u);
  svc.wait_idle(std::chrono::seconds(10));
}

TEST(ReportsExport, ACancelledExportStopsItsProducer) {
  ExportOptions o;
  o.piece_bytes = 1024;
  o.queue_pieces = 2;
  o.max_concurrent = 2;
  ExportService svc(o, nullptr);
  std::vector<Column> cols = {{"n", CellKind::kNumber, 8}};
  std::atomic<int> produced{0};
  auto endless = [&](RowWriter& w) -> Status {
    for (;;) {
      if (!w.add({std::to_string(produced++)})) return ok_status();
    }
  };
  std::vector<ExportStats> done;
  std::mutex mu;
  auto record = [&](const ExportStats& st) {
    std::lock_guard g(mu);
    done.push_back(st);
  };
  auto csv = svc.start(ExportFormat::kCsv, "s", cols, endless, record);
  auto xlsx = svc.start(ExportFormat::kXlsx, "s", cols, endless, record);
  ASSERT_TRUE(csv && xlsx);
  // a third one is refused while two run
  auto third = svc.start(ExportFormat::kCsv, "s", cols, endless, record);
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, "too_many_exports");
  // the CSV producer blocks on the full queue: read a piece, then hang up
  for (int i = 0; i < 1000; ++i) {
    auto p = (*csv)->read();
    if (p && !p->empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  (*csv)->cancel();
  (*xlsx)->cancel();
  svc.wait_idle(std::chrono::seconds(10));
  EXPECT_EQ(svc.active(), 0);
  ASSERT_EQ(done.size(), 2u);
  for (const auto& st : done) EXPECT_TRUE(st.cancelled);
}

TEST(ReportsSchedules, CronIsReadInLocalTime) {
  auto daily = parse_cron("0 8 * * *");
  ASSERT_TRUE(daily);
  TimeMs t = *parse_rfc3339("2026-11-22T09:00:00+08:00");
  EXPECT_EQ(next_run(*daily, t, 480), *parse_rfc3339("2026-11-23T08:00:00+08:00"));
  EXPECT_EQ(next_run(*daily, *parse_rfc3339("2026-11-22T07:59:00+08:00"), 480), *parse_rfc3339("2026-11-22T08:00:00+08:00"));
  auto weekly = parse_cron("30 7 * * 1");  // Mondays
  ASSERT_TRUE(weekly);
  EXPECT_EQ(next_run(*weekly, t, 480), *parse_rfc3339("2026-11-23T07:30:00+08:00"));  // 2026-11-23 is a Monday
  auto monthly = parse_cron("0 9 1 * *");
  ASSERT_TRUE(monthly);
  EXPECT_EQ(next_run(*monthly, t, 480), *parse_rfc3339("2026-12-01T09:00:00+08:00"));
  auto sunday = parse_cron("0 0 * * 7");
  ASSERT_TRUE(sunday);
  EXPECT_EQ(next_run(*sunday, t, 480), *parse_rfc3339("2026-11-29T00:00:00+08:00"));
  for (const char* bad : {"", "0 8 * *", "0 8-9 * * *", "60 8 * * *", "0 24 * * *", "0 8 31 * *", "0 8 1 2 *",
                          "0 8 1 * 1", "*/5 * * * *", "a b c d e"}) {
    auto r = parse_cron(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().field, "cron") << bad;
  }
}

}  // namespace
}  // namespace mingchu::reports
