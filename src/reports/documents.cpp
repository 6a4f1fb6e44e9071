#include "reports/documents.hpp"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "reports/pdf_canvas.hpp"

namespace mingchu::reports {
namespace {

constexpr double kLeft = PdfCanvas::kMargin;
constexpr double kRight = PdfCanvas::kWidth - PdfCanvas::kMargin;
constexpr double kTextWidth = kRight - kLeft;
constexpr double kBottom = PdfCanvas::kHeight - 70;

TextStyle body_style(double size = 12.5) {
  TextStyle s;
  s.size = size;
  s.serif = true;
  return s;
}

TextStyle bold(TextStyle s) {
  s.bold = true;
  return s;
}

TextStyle centered(TextStyle s) {
  s.align = Align::kCenter;
  return s;
}

// A page writer: a cursor that moves down and opens a new page (with its footer) when a
// block does not fit.
class Flow {
 public:
  explicit Flow(PdfCanvas& c) : c_(c) {}
  double y = 0;
  PdfCanvas& canvas() { return c_; }

  void footer() {
    TextStyle s = centered(body_style(10));
    s.color = kGrey;
    char buf[32];
    std::snprintf(buf, sizeof buf, "— %d —", c_.page());
    c_.text(kLeft, PdfCanvas::kHeight - 48, kTextWidth, buf, s);
  }
  void need(double h) {
    if (y + h <= kBottom) return;
    footer();
    c_.new_page();
    y = PdfCanvas::kMargin;
  }
  void para(const std::string& text, const TextStyle& s, double gap = 6) {
    double h = c_.text_height(kTextWidth, text, s);
    need(h);
    c_.text(kLeft, y, kTextWidth, text, s);
    y += h + gap;
  }
  void indented(const std::string& text, const TextStyle& s, double gap = 6) {
    // 首行缩进两字: two ideographic spaces
    para("\u3000\u3000" + text, s, gap);
  }

 private:
  PdfCanvas& c_;
};

// The red header (红头): the bureau's name in large red type, the document number, and the
// red rule under them.
void red_header(Flow& f, const std::string& org, const std::string& number) {
  PdfCanvas& c = f.canvas();
  TextStyle h = centered(bold(body_style(org.size() > 36 ? 22 : 26)));
  h.color = kRed;
  h.letter_spacing = 1.5;
  f.y = PdfCanvas::kMargin + 6;
  double hh = c.text(kLeft - 20, f.y, kTextWidth + 40, org, h);
  f.y += hh + 14;
  if (!number.empty()) {
    f.y += c.text(kLeft, f.y, kTextWidth, number, centered(body_style(12.5))) + 6;
  }
  c.line(kLeft, f.y, kRight, f.y, 2.2, kRed);
  c.line(kLeft, f.y + 3.5, kRight, f.y + 3.5, 0.6, kRed);
  f.y += 22;
}

void title(Flow& f, const std::string& t) {
  TextStyle s = centered(bold(body_style(20)));
  s.letter_spacing = 2;
  f.para(t, s, 16);
}

// The closing block: signature line, issuer and date on the right, the seal over them.
void closing(Flow& f, const Issuer& issuer, const std::string& date) {
  PdfCanvas& c = f.canvas();
  f.need(150);
  f.y += 24;
  TextStyle r = body_style(12.5);
  r.align = Align::kRight;
  double top = f.y;
  if (!issuer.signature.empty()) {
    f.y += c.text(kLeft, f.y, kTextWidth - 10, issuer.signature, r) + 12;
  }
  f.y += c.text(kLeft, f.y, kTextWidth - 10, issuer.org + "（盖章）", r) + 6;
  f.y += c.text(kLeft, f.y, kTextWidth - 10, date, r) + 6;
  double cx = kRight - 80, cy = top + 48;
  bool drawn = false;
  if (issuer.seal_image) drawn = c.image(*issuer.seal_image, cx - 48, cy - 48, 96, 96).has_value();
  if (!drawn) c.seal(cx, cy, 46, issuer.org);
}

// "2026-11-22" → "2026年11月22日"; other text unchanged.
std::string chinese_date(const std::string& iso) {
  int y = 0, m = 0, d = 0;
  if (iso.size() >= 10 && std::sscanf(iso.c_str(), "%4d-%2d-%2d", &y, &m, &d) == 3) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%d年%d月%d日", y, m, d);
    return buf;
  }
  return iso;
}

void key_value_table(Flow& f, const std::vector<std::pair<std::string, std::string>>& rows) {
  PdfCanvas& c = f.canvas();
  const double kw = 110;
  TextStyle ks = bold(body_style(11.5));
  TextStyle vs = body_style(11.5);
  for (const auto& [k, v] : rows) {
    double h = std::max(c.text_height(kw - 12, k, ks), c.text_height(kTextWidth - kw - 12, v, vs)) + 10;
    f.need(h);
    c.rect(kLeft, f.y, kw, h, kBlack, 0.6, Rgb{0.96, 0.96, 0.96});
    c.rect(kLeft + kw, f.y, kTextWidth - kw, h, kBlack, 0.6, std::nullopt);
    c.text(kLeft + 6, f.y + 5, kw - 12, k, ks);
    c.text(kLeft + kw + 6, f.y + 5, kTextWidth - kw - 12, v.empty() ? "—" : v, vs);
    f.y += h;
  }
  f.y += 10;
}

void snapshot_with_boxes(PdfCanvas& c, const Snapshot& s, double x, double y, double w, double h) {
  c.rect(x, y, w, h, kLightGrey, 0.5, Rgb{0.97, 0.97, 0.97});
  auto placed = c.image(s.bytes, x, y, w, h);
  if (!placed) {
    TextStyle t = centered(body_style(10));
    t.color = kGrey;
    c.text(x, y + h / 2 - 8, w, "（抓拍图片无法显示）", t);
    return;
  }
  for (const auto& b : s.boxes) {
    double bx = placed->x + b.x * placed->scale, by = placed->y + b.y * placed->scale;
    double bw = b.w * placed->scale, bh = b.h * placed->scale;
    // clip boxes that stray outside the picture
    bx = std::clamp(bx, placed->x, placed->x + placed->w);
    by = std::clamp(by, placed->y, placed->y + placed->h);
    bw = std::min(bw, placed->x + placed->w - bx);
    bh = std::min(bh, placed->y + placed->h - by);
    if (bw <= 0 || bh <= 0) continue;
    c.rect(bx, by, bw, bh, kRed, 1.5, std::nullopt);
    if (!b.label.empty()) {
      TextStyle t = body_style(7.5);
      t.serif = false;
      t.color = Rgb{1, 1, 1};
      double tw = c.text_width(b.label, t) + 4;
      c.rect(bx, std::max(placed->y, by - 11), tw, 11, std::nullopt, 0, kRed);
      c.text(bx + 2, std::max(placed->y, by - 11), tw, b.label, t);
    }
  }
}

}  // namespace

std::string render_notice(const NoticeData& d) {
  PdfCanvas c("整改通知书 " + d.unit_name, d.issuer.org);
  Flow f(c);
  red_header(f, d.issuer.org, d.number);
  title(f, "整改通知书");
  f.para(d.unit_name + "：", bold(body_style(13)), 8);
  std::string body = "经“互联网+明厨亮灶”智慧监管平台监测，你单位于" + d.occurred_at + "被发现存在“" +
                     d.alert_type + "”问题（" + d.risk_class_name;
  if (d.capture_count > 1) body += "，共抓拍" + std::to_string(d.capture_count) + "次，最近一次" + d.last_seen_at;
  body += "），不符合《中华人民共和国食品安全法》及餐饮服务食品安全操作规范的相关要求。";
  f.indented(body, body_style(13), 6);
  if (!d.due_on.empty()) {
    f.indented("现责令你单位立即整改，并于" + chinese_date(d.due_on) +
                   "前通过明厨亮灶平台（商户端）提交整改情况及整改照片。逾期未整改或整改不到位的，"
                   "我局将依法予以处理。",
               body_style(13), 10);
  } else {
    f.indented("请你单位立即整改，并通过明厨亮灶平台（商户端）提交整改情况及整改照片。", body_style(13), 10);
  }
  key_value_table(f, {{"单位名称", d.unit_name},
                      {"统一社会信用代码", d.unit_uscc},
                      {"经营者/负责人", d.unit_operator},
                      {"许可证/备案号", d.unit_licence},
                      {"经营地址", d.unit_address},
                      {"预警类型", d.alert_type + "（" + d.risk_class_name + "）"},
                      {"摄像头/区域", d.camera},
                      {"发现时间", d.occurred_at},
                      {"整改期限", d.due_on.empty() ? "立即整改" : chinese_date(d.due_on) + "前"},
                      {"预警编号", d.alert_id}});
  if (!d.snapshots.empty()) {
    size_t n = std::min<size_t>(d.snapshots.size(), 4);
    double w = n == 1 ? kTextWidth * 0.8 : (kTextWidth - 10) / 2;
    double h = w * 0.5625;  // 16:9
    f.need(h + 30);  // the caption stays with its first picture
    f.para("抓拍证据（红框为智能识别的违规位置）：", bold(body_style(12)), 6);
    for (size_t i = 0; i < n; i += 2) {
      f.need(h + 8);
      snapshot_with_boxes(c, d.snapshots[i], kLeft, f.y, w, h);
      if (i + 1 < n) snapshot_with_boxes(c, d.snapshots[i + 1], kLeft + w + 10, f.y, w, h);
      f.y += h + 8;
    }
  }
  // the QR code to the alert, with its caption, at the left of the closing block
  f.need(160);
  double qy = f.y + 20;
  if (!d.qr_url.empty() && c.qr(d.qr_url, kLeft, qy, 86)) {
    TextStyle cap = body_style(9);
    cap.color = kGrey;
    c.text(kLeft, qy + 90, 150, "扫码查看预警详情与整改进度", cap);
  }
  closing(f, d.issuer, chinese_date(d.issued_on));
  f.footer();
  return c.finish();
}

// ---- templates

std::optional<DocumentTemplate> default_template(const std::string& kind) {
  DocumentTemplate t;
  t.kind = kind;
  t.issuer.signature = "执法人员：______________　______________";
  if (kind == "rectification_order") {
    t.title = "责令改正通知书";
    t.body =
        "{{unit_name}}：\n\n"
        "经查，你单位（统一社会信用代码：{{uscc}}，地址：{{unit_address}}）于{{occurred_at}}存在“{{alert_type}}”"
        "的违法行为，违反了《中华人民共和国食品安全法》的有关规定。\n\n"
        "依据《中华人民共和国食品安全法》及《市场监督管理行政处罚程序规定》，现责令你单位于{{due_on}}前改正上述"
        "违法行为，并将改正情况书面报告我局。\n\n"
        "如不服本决定，可在收到本通知书之日起六十日内依法申请行政复议，或者在六个月内依法提起行政诉讼。";
  } else if (kind == "penalty_decision") {
    t.title = "行政处罚决定书";
    t.body =
        "当事人：{{unit_name}}\n统一社会信用代码：{{uscc}}\n住所：{{unit_address}}\n法定代表人（负责人）：{{operator}}\n\n"
        "经查，当事人于{{occurred_at}}存在“{{alert_type}}”的违法行为（预警编号{{alert_id}}），经责令改正后逾期"
        "未改正。\n\n"
        "以上事实有明厨亮灶平台抓拍记录、现场检查笔录等证据为证。依据《中华人民共和国食品安全法》的规定，"
        "本局决定对当事人作出如下行政处罚：警告，并处罚款（具体金额见附件）。\n\n"
        "当事人应当自收到本决定书之日起十五日内缴纳罚款。如不服本处罚决定，可在收到本决定书之日起六十日内"
        "依法申请行政复议，或者在六个月内依法提起行政诉讼。";
  } else if (kind == "inquiry_notice") {
    t.title = "询问通知书";
    t.body =
        "{{unit_name}}：\n\n"
        "为调查核实你单位于{{occurred_at}}涉嫌“{{alert_type}}”一案（预警编号{{alert_id}}），依据《市场监督管理"
        "行政处罚程序规定》，请你单位法定代表人（负责人）{{operator}}或委托代理人于{{due_on}}前携带营业执照、"
        "食品经营许可证（许可证/备案号：{{licence}}）、身份证明及相关材料，到我局接受询问调查。\n\n"
        "无正当理由拒不接受询问的，我局将依法处理。";
  } else if (kind == "supervision_letter") {
    t.title = "监督意见书";
    t.body =
        "{{unit_name}}：\n\n"
        "我局通过“互联网+明厨亮灶”智慧监管平台发现，你单位于{{occurred_at}}存在“{{alert_type}}”问题"
        "（{{risk_class}}，累计抓拍{{capture_count}}次）。\n\n"
        "为保障公众饮食安全，提出如下监督意见：一、立即对上述问题进行整改；二、加强从业人员食品安全培训，"
        "落实食品安全主体责任；三、于{{due_on}}前将整改情况反馈我局。\n\n"
        "请予以重视并认真落实。";
  } else {
    return std::nullopt;
  }
  return t;
}

std::vector<std::string> required_fields(const std::string& kind) {
  if (kind == "penalty_decision") return {"unit_name", "alert_type", "occurred_at"};
  return {"unit_name", "alert_type", "due_on"};
}

std::optional<TemplateProblem> check_template_body(const std::string& kind, const std::string& body) {
  std::set<std::string> known(std::begin(kTemplateFields), std::end(kTemplateFields));
  std::set<std::string> used;
  for (size_t i = body.find("{{"); i != std::string::npos; i = body.find("{{", i + 2)) {
    size_t e = body.find("}}", i + 2);
    if (e == std::string::npos) {
      return TemplateProblem{"unclosed_placeholder", "", "a placeholder opened with {{ is never closed with }}"};
    }
    std::string name = body.substr(i + 2, e - i - 2);
    if (!known.count(name)) {
      return TemplateProblem{"unknown_placeholder", name, "unknown placeholder {{" + name + "}}"};
    }
    used.insert(name);
  }
  for (const auto& r : required_fields(kind)) {
    if (!used.count(r)) return TemplateProblem{"missing_placeholder", r, "missing placeholder {{" + r + "}}"};
  }
  return std::nullopt;
}

std::string fill_template(const std::string& body, const std::map<std::string, std::string>& values) {
  std::string out;
  size_t at = 0;
  for (size_t i = body.find("{{"); i != std::string::npos; i = body.find("{{", at)) {
    size_t e = body.find("}}", i + 2);
    if (e == std::string::npos) break;
    out.append(body, at, i - at);
    auto it = values.find(body.substr(i + 2, e - i - 2));
    if (it != values.end()) {
      out += it->second.empty() ? "____" : it->second;
    } else {
      out.append(body, i, e + 2 - i);
    }
    at = e + 2;
  }
  out.append(body, at, std::string::npos);
  return out;
}

std::string render_document(const DocumentTemplate& t, const std::map<std::string, std::string>& values) {
  PdfCanvas c(t.title, t.issuer.org);
  Flow f(c);
  auto number = values.find("number");
  red_header(f, t.issuer.org, number != values.end() ? number->second : "");
  title(f, t.title);
  auto printed = values;  // dates as a document prints them
  for (const char* k : {"due_on", "issued_on"}) {
    if (auto it = printed.find(k); it != printed.end()) it->second = chinese_date(it->second);
  }
  std::string filled = fill_template(t.body, printed);
  // paragraphs are separated by blank lines; a line ending in '：' or a short "key：value"
  // line is printed as it is, the rest with the customary two-character indent
  size_t at = 0;
  while (at <= filled.size()) {
    size_t e = filled.find("\n\n", at);
    std::string p = filled.substr(at, e == std::string::npos ? std::string::npos : e - at);
    if (!p.empty()) {
      bool address_line = p.find('\n') != std::string::npos || (p.size() > 3 && p.substr(p.size() - 3) == "：");
      if (address_line) {
        f.para(p, body_style(13), 8);
      } else {
        f.indented(p, body_style(13), 8);
      }
    }
    if (e == std::string::npos) break;
    at = e + 2;
  }
  auto issued = values.find("issued_on");
  closing(f, t.issuer, issued != values.end() ? chinese_date(issued->second) : "");
  f.footer();
  return c.finish();
}

// ---- monthly report

namespace {

std::string percent(std::int64_t a, std::int64_t b) {
  if (b == 0) return "—";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * static_cast<double>(a) / static_cast<double>(b));
  return buf;
}

// A "nice" upper bound for a chart axis.
double nice_max(double v) {
  if (v <= 0) return 1;
  double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

void section(Flow& f, const std::string& t) {
  f.need(60);
  f.y += 6;
  TextStyle s = bold(body_style(14.5));
  s.serif = false;
  f.para(t, s, 8);
}

// A vertical bar chart over the page's width (the daily trend).
void bar_chart(Flow& f, const std::vector<NamedCount>& data, double height) {
  PdfCanvas& c = f.canvas();
  f.need(height + 30);
  double x0 = kLeft + 36, y0 = f.y, w = kTextWidth - 40, h = height;
  std::int64_t mx = 0;
  for (const auto& d : data) mx = std::max(mx, d.count);
  double top = nice_max(static_cast<double>(mx));
  TextStyle ax = body_style(8);
  ax.serif = false;
  ax.color = kGrey;
  ax.align = Align::kRight;
  for (int i = 0; i <= 4; ++i) {
    double yy = y0 + h - h * i / 4;
    c.line(x0, yy, x0 + w, yy, 0.4, kLightGrey);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", top * i / 4);
    c.text(kLeft - 4, yy - 6, 36, buf, ax);
  }
  if (!data.empty()) {
    double slot = w / data.size();
    TextStyle lab = ax;
    lab.align = Align::kCenter;
    for (size_t i = 0; i < data.size(); ++i) {
      double bh = h * static_cast<double>(data[i].count) / top;
      c.rect(x0 + i * slot + slot * 0.15, y0 + h - bh, slot * 0.7, bh, std::nullopt, 0, Rgb{0.16, 0.42, 0.78});
      if (data.size() <= 16 || i % 2 == 0) c.text(x0 + i * slot - 4, y0 + h + 3, slot + 8, data[i].name, lab);
    }
  }
  c.line(x0, y0 + h, x0 + w, y0 + h, 0.8, kBlack);
  f.y += h + 22;
}

// Horizontal bars with their labels and values (types, classes, rankings).
void hbar_chart(Flow& f, const std::vector<NamedCount>& data, Rgb color) {
  PdfCanvas& c = f.canvas();
  std::int64_t mx = 0;
  for (const auto& d : data) mx = std::max(mx, d.count);
  double top = nice_max(static_cast<double>(mx));
  const double label_w = 150, row = 17;
  TextStyle lab = body_style(9.5);
  lab.serif = false;
  lab.align = Align::kRight;
  TextStyle val = lab;
  val.align = Align::kLeft;
  for (const auto& d : data) {
    f.need(row);
    c.text(kLeft, f.y + 2, label_w - 8, d.name, lab);
    double bw = (kTextWidth - label_w - 50) * static_cast<double>(d.count) / top;
    c.rect(kLeft + label_w, f.y + 3, std::max(bw, 0.5), row - 6, std::nullopt, 0, color);
    c.text(kLeft + label_w + bw + 4, f.y + 2, 60, std::to_string(d.count), val);
    f.y += row;
  }
  f.y += 8;
}

void table(Flow& f, const std::vector<std::string>& head, const std::vector<double>& widths,
           const std::vector<std::vector<std::string>>& rows) {
  PdfCanvas& c = f.canvas();
  TextStyle hs = bold(body_style(9.5));
  hs.serif = false;
  TextStyle cs = body_style(9.5);
  cs.serif = false;
  auto draw_row = [&](const std::vector<std::string>& cells, const TextStyle& s, std::optional<Rgb> fill) {
    double h = 0;
    for (size_t i = 0; i < cells.size(); ++i) h = std::max(h, c.text_height(widths[i] - 8, cells[i], s));
    h += 8;
    f.need(h);
    double x = kLeft;
    for (size_t i = 0; i < cells.size(); ++i) {
      c.rect(x, f.y, widths[i], h, kGrey, 0.4, fill);
      c.text(x + 4, f.y + 4, widths[i] - 8, cells[i], s);
      x += widths[i];
    }
    f.y += h;
  };
  draw_row(head, hs, Rgb{0.92, 0.94, 0.97});
  for (const auto& r : rows) draw_row(r, cs, std::nullopt);
  f.y += 10;
}

void kpi_boxes(Flow& f, const std::vector<std::pair<std::string, std::string>>& kpis) {
  PdfCanvas& c = f.canvas();
  const int per_row = 4;
  double w = (kTextWidth - (per_row - 1) * 8) / per_row, h = 52;
  for (size_t i = 0; i < kpis.size(); i += per_row) {
    f.need(h + 8);
    for (size_t j = i; j < std::min(kpis.size(), i + per_row); ++j) {
      double x = kLeft + (j - i) * (w + 8);
      c.rect(x, f.y, w, h, Rgb{0.75, 0.8, 0.9}, 0.6, Rgb{0.96, 0.97, 1.0});
      TextStyle v = centered(bold(body_style(17)));
      v.serif = false;
      v.color = Rgb{0.1, 0.3, 0.65};
      c.text(x, f.y + 6, w, kpis[j].second, v);
      TextStyle l = centered(body_style(9));
      l.serif = false;
      l.color = kGrey;
      c.text(x, f.y + 32, w, kpis[j].first, l);
    }
    f.y += h + 8;
  }
  f.y += 6;
}

}  // namespace

std::string render_unit_archive(const UnitArchiveData& d) {
  std::string name;
  for (const auto& [k, v] : d.fields) {
    if (k == "单位名称") name = v;
  }
  PdfCanvas c("单位档案 " + name, d.issuer.org);
  Flow f(c);
  red_header(f, d.issuer.org, "");
  title(f, "餐饮服务单位档案");
  key_value_table(f, d.fields);
  section(f, "一、监控设备");
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : d.cameras) rows.push_back(r.cells);
  if (rows.empty()) {
    f.indented("未登记摄像头。", body_style(12));
  } else {
    table(f, {"名称", "区域", "状态", "最近在线"}, {kTextWidth * 0.34, kTextWidth * 0.2, kTextWidth * 0.14, kTextWidth * 0.32}, rows);
  }
  section(f, "二、从业人员与健康证");
  rows.clear();
  for (const auto& r : d.staff) rows.push_back(r.cells);
  if (rows.empty()) {
    f.indented("未登记从业人员。", body_style(12));
  } else {
    table(f, {"姓名", "岗位", "身份证号", "健康证号", "有效期至", "状态"},
          {kTextWidth * 0.14, kTextWidth * 0.14, kTextWidth * 0.24, kTextWidth * 0.18, kTextWidth * 0.16, kTextWidth * 0.14}, rows);
  }
  section(f, "三、近90日预警情况");
  f.indented("近90日共产生预警" + std::to_string(d.alerts_90d) + "起，目前待整改" + std::to_string(d.open_alerts) +
                 "起，其中逾期" + std::to_string(d.overdue_alerts) + "起。",
             body_style(12.5), 8);
  if (!d.alerts_by_type.empty()) hbar_chart(f, d.alerts_by_type, Rgb{0.85, 0.45, 0.1});
  f.need(130);
  if (!d.qr_url.empty() && c.qr(d.qr_url, kLeft, f.y + 10, 86)) {
    TextStyle cap = body_style(9);
    cap.color = kGrey;
    c.text(kLeft, f.y + 100, 200, "扫码查看单位公示信息", cap);
  }
  closing(f, d.issuer, chinese_date(d.generated_at.substr(0, 10)));
  f.footer();
  return c.finish();
}

std::string render_monthly(const MonthlyData& d) {
  PdfCanvas c(d.jurisdiction_name + " 明厨亮灶监管月报 " + d.period, d.issuer.org);
  Flow f(c);
  red_header(f, d.issuer.org, "");
  title(f, "“互联网+明厨亮灶”智慧监管月度报告");
  f.para(d.jurisdiction_name + "　" + d.period, centered(body_style(13)), 14);

  section(f, "一、总体情况");
  std::string text = "截至本期末，" + d.jurisdiction_name + "在管餐饮服务单位" + std::to_string(d.units) +
                     "家，接入摄像头" + std::to_string(d.cameras_total) + "路（在线" +
                     std::to_string(d.cameras_online) + "路，在线率" + percent(d.cameras_online, d.cameras_total) +
                     "）。本期平台共产生预警" + std::to_string(d.alerts_total) + "起，涉及单位" +
                     std::to_string(d.units_with_alerts) + "家，已处置" + std::to_string(d.handled) + "起，处置率" +
                     percent(d.handled, d.alerts_total) + "。";
  if (d.previous_alerts_total) {
    std::int64_t p = *d.previous_alerts_total;
    if (p > 0) {
      double ch = 100.0 * static_cast<double>(d.alerts_total - p) / static_cast<double>(p);
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s%.1f%%", ch >= 0 ? "上升" : "下降", std::fabs(ch));
      text += "预警数较上期（" + std::to_string(p) + "起）" + buf + "。";
    } else {
      text += "上期无预警。";
    }
  }
  if (d.overdue_total > 0) text += "目前逾期未整改预警" + std::to_string(d.overdue_total) + "起，详见第六部分。";
  f.indented(text, body_style(12.5), 10);
  kpi_boxes(f, {{"在管单位（家）", std::to_string(d.units)},
                {"本期预警（起）", std::to_string(d.alerts_total)},
                {"已处置（起）", std::to_string(d.handled)},
                {"处置率", percent(d.handled, d.alerts_total)},
                {"涉及单位（家）", std::to_string(d.units_with_alerts)},
                {"摄像头（路）", std::to_string(d.cameras_total)},
                {"摄像头在线率", percent(d.cameras_online, d.cameras_total)},
                {"逾期未整改（起）", std::to_string(d.overdue_total)}});

  section(f, "二、每日预警趋势");
  bar_chart(f, d.by_day, 130);

  section(f, "三、预警类型分布");
  if (d.by_type.empty()) {
    f.indented("本期无预警。", body_style(12));
  } else {
    hbar_chart(f, d.by_type, Rgb{0.85, 0.45, 0.1});
  }
  f.para("按风险等级：", bold(body_style(11.5)), 4);
  hbar_chart(f, d.by_risk_class, Rgb{0.75, 0.15, 0.15});

  if (!d.areas.empty()) {
    section(f, "四、下级辖区情况");
    std::vector<std::vector<std::string>> rows;
    for (const auto& a : d.areas) {
      rows.push_back({a.name, std::to_string(a.units), std::to_string(a.alerts), std::to_string(a.handled),
                      percent(a.handled, a.alerts)});
    }
    table(f, {"辖区", "在管单位", "预警数", "已处置", "处置率"}, {kTextWidth * 0.32, kTextWidth * 0.17,
                                                                   kTextWidth * 0.17, kTextWidth * 0.17,
                                                                   kTextWidth * 0.17},
          rows);
  }

  section(f, d.areas.empty() ? "四、预警较多单位排名" : "五、预警较多单位排名");
  if (d.top_units.empty()) {
    f.indented("本期无预警。", body_style(12));
  } else {
    std::vector<std::vector<std::string>> rows;
    int i = 0;
    for (const auto& u : d.top_units) rows.push_back({std::to_string(++i), u.name, std::to_string(u.count)});
    table(f, {"排名", "单位名称", "预警数"}, {kTextWidth * 0.12, kTextWidth * 0.68, kTextWidth * 0.2}, rows);
  }

  section(f, d.areas.empty() ? "五、逾期未整改清单" : "六、逾期未整改清单");
  if (d.overdue.empty()) {
    f.indented("目前无逾期未整改的预警。", body_style(12));
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& o : d.overdue) {
      rows.push_back({o.unit_name, o.alert_type, o.occurred_at, o.due_on, std::to_string(o.days_overdue),
                      o.card.empty() ? "—" : o.card});
    }
    table(f, {"单位名称", "预警类型", "发现时间", "整改期限", "逾期天数", "亮牌"},
          {kTextWidth * 0.28, kTextWidth * 0.2, kTextWidth * 0.18, kTextWidth * 0.13, kTextWidth * 0.1,
           kTextWidth * 0.11},
          rows);
    if (d.overdue_total > static_cast<std::int64_t>(d.overdue.size())) {
      TextStyle s = body_style(10);
      s.color = kGrey;
      f.para("（仅列出前" + std::to_string(d.overdue.size()) + "起，共" + std::to_string(d.overdue_total) +
                 "起，完整清单请在平台导出。）",
             s);
    }
  }
  TextStyle g = body_style(10);
  g.color = kGrey;
  g.align = Align::kRight;
  f.para("本报告由明厨亮灶智慧监管平台于" + d.generated_at + "自动生成", g);
  closing(f, d.issuer, d.generated_at.substr(0, 10).empty() ? "" : chinese_date(d.generated_at.substr(0, 10)));
  f.footer();
  return c.finish();
}

}  // namespace mingchu::reports
