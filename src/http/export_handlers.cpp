// Exports of the console's lists (API.md "Reports and exchange"):
// GET /api/v1/{alerts|units|cameras|staff|health-certs|complaints|audit}/export?format=xlsx|csv&…
// with exactly the filters and scope of the list itself. Thin: the alert export pages through
// AlertService::list_after (keyset, so a million rows cost a million rows, not a million
// squared); the other lists page through their own list handler (same filters, scope and
// masking as the console shows), converted to rows by a column table.
#include <unordered_map>

#include "alerts/alert_service.hpp"
#include "core/time.hpp"
#include "http/handler_util.hpp"
#include "reports/export.hpp"
#include "storage/sql.hpp"

namespace mingchu::http {

Result<alerts::AlertFilter> alert_filter(const ApiContext& ctx, const Request& req);
std::string content_disposition(const std::string& name, bool inline_view);

namespace {

using reports::CellKind;
using reports::Column;

// A column of a generic list: a dotted path into an item, and how to print it.
struct Field {
  const char* path;
  const char* title;
  CellKind kind = CellKind::kText;
  double width = 16;
};

struct ListExport {
  const char* list_path;
  const char* file_title;
  std::vector<Field> fields;
};

const std::map<std::string, ListExport, std::less<>>& list_exports() {
  static const std::map<std::string, ListExport, std::less<>> kLists = {
      {"units",
       {"/api/v1/units",
        "餐饮单位",
        {{"id", "单位编号", CellKind::kText, 24},
         {"name", "单位名称", CellKind::kText, 30},
         {"uscc", "统一社会信用代码", CellKind::kText, 22},
         {"licence_number", "许可证号"},
         {"filing_number", "备案号"},
         {"operator", "经营者/负责人"},
         {"phone", "联系电话"},
         {"address", "经营地址", CellKind::kText, 36},
         {"store_type", "门店类型"},
         {"business_format", "主体业态"},
         {"jurisdiction_id", "辖区编号", CellKind::kText, 24},
         {"rating", "量化分级"},
         {"lng", "经度", CellKind::kNumber, 12},
         {"lat", "纬度", CellKind::kNumber, 12},
         {"created_at", "建档时间", CellKind::kText, 26}}}},
      {"cameras",
       {"/api/v1/cameras",
        "摄像头",
        {{"id", "摄像头编号", CellKind::kText, 24},
         {"unit_id", "单位编号", CellKind::kText, 24},
         {"name", "名称"},
         {"area", "区域"},
         {"brand", "品牌"},
         {"model", "型号"},
         {"channel", "通道", CellKind::kNumber, 8},
         {"gb_device_id", "国标设备编码", CellKind::kText, 24},
         {"gb_channel_id", "国标通道编码", CellKind::kText, 24},
         {"public", "公开"},
         {"ai_enabled", "智能识别"},
         {"status", "状态"},
         {"last_seen_at", "最近在线", CellKind::kText, 26}}}},
      {"staff",
       {"/api/v1/staff",
        "从业人员",
        {{"id", "人员编号", CellKind::kText, 24},
         {"unit_id", "单位编号", CellKind::kText, 24},
         {"name", "姓名"},
         {"id_number", "身份证号", CellKind::kText, 22},
         {"phone", "手机号"},
         {"position", "岗位"},
         {"health_cert.number", "健康证号"},
         {"health_cert.issued_on", "发证日期"},
         {"health_cert.expires_on", "有效期至"},
         {"cert_status", "健康证状态"},
         {"days_left", "剩余天数", CellKind::kNumber, 10}}}},
      {"health-certs",
       {"/api/v1/health-certs",
        "健康证",
        {{"staff_id", "人员编号", CellKind::kText, 24},
         {"staff_name", "姓名"},
         {"position", "岗位"},
         {"unit_id", "单位编号", CellKind::kText, 24},
         {"unit_name", "单位名称", CellKind::kText, 30},
         {"health_cert.number", "健康证号"},
         {"health_cert.issued_on", "发证日期"},
         {"health_cert.expires_on", "有效期至"},
         {"status", "状态"},
         {"days_left", "剩余天数", CellKind::kNumber, 10}}}},
      {"complaints",
       {"/api/v1/complaints",
        "投诉举报",
        {{"id", "编号", CellKind::kText, 24},
         {"unit_id", "单位编号", CellKind::kText, 24},
         {"unit_name", "单位名称", CellKind::kText, 30},
         {"text", "内容", CellKind::kText, 50},
         {"contact", "联系方式"},
         {"state", "状态"},
         {"created_at", "时间", CellKind::kText, 26}}}},
      {"audit",
       {"/api/v1/audit",
        "审计日志",
        {{"seq", "序号", CellKind::kNumber, 10},
         {"at", "时间", CellKind::kText, 26},
         {"actor", "操作人"},
         {"role", "角色"},
         {"action", "操作", CellKind::kText, 24},
         {"target", "对象", CellKind::kText, 30},
         {"source", "来源"},
         {"result", "结果"},
         {"detail", "详情", CellKind::kText, 40},
         {"hash", "SM3", CellKind::kText, 30}}}},
  };
  return kLists;
}

std::string cell_of(const json::value* v) {
  if (!v || v->is_null()) return "";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_bool()) return v->as_bool() ? "是" : "否";
  if (v->is_int64()) return std::to_string(v->as_int64());
  if (v->is_uint64()) return std::to_string(v->as_uint64());
  if (v->is_double()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.10g", v->as_double());
    return buf;
  }
  return json::serialize(*v);
}

const json::value* at_path(const json::object& o, std::string_view path) {
  const json::object* cur = &o;
  for (;;) {
    size_t dot = path.find('.');
    auto it = cur->find(path.substr(0, dot));
    if (it == cur->end()) return nullptr;
    if (dot == std::string_view::npos) return &it->value();
    if (!it->value().is_object()) return nullptr;
    cur = &it->value().as_object();
    path = path.substr(dot + 1);
  }
}

// The list's own handler, called for one page with the export's query (minus format).
struct ListPage {
  Response resp;
  json::array items;
  std::int64_t total = 0;
};

ListPage call_list(const ApiContext& ctx, const Request& orig, const char* path, int page, int page_size) {
  Request sub;
  sub.method = "GET";
  sub.path = path;
  sub.headers = orig.headers;
  sub.remote = orig.remote;
  sub.request_id = orig.request_id;
  sub.internal = true;  // the export itself was admitted (and audited) once
  for (const auto& [k, v] : orig.query) {
    if (k != "format" && k != "page" && k != "page_size" && k != "access_token") sub.query.emplace_back(k, v);
  }
  sub.query.emplace_back("page", std::to_string(page));
  sub.query.emplace_back("page_size", std::to_string(page_size));
  ListPage out;
  Match m = ctx.router->match(sub);
  if (!m.route || !m.route->handler) {
    out.resp = Response::error(500, "internal_error", "no list route for the export");
    return out;
  }
  out.resp = m.route->handler(sub);
  if (out.resp.status != 200) return out;
  auto v = parse_value(out.resp.body);
  if (v && v->is_object()) {
    auto& o = v->as_object();
    if (auto it = o.find("items"); it != o.end() && it->value().is_array()) out.items = std::move(it->value().as_array());
    if (auto it = o.find("total"); it != o.end() && it->value().is_int64()) out.total = it->value().as_int64();
  }
  return out;
}

std::string file_name(const ApiContext& ctx, const std::string& title, reports::ExportFormat f) {
  std::string day = format_date(local_day(ctx.clock->now_ms(), ctx.options.utc_offset_minutes));
  return title + "-" + day + (f == reports::ExportFormat::kXlsx ? ".xlsx" : ".csv");
}

// The job as the server's BodySource.
class JobSource final : public BodySource {
 public:
  explicit JobSource(std::shared_ptr<reports::ExportJob> j) : job_(std::move(j)) {}
  std::optional<std::string> read() override { return job_->read(); }
  bool failed() const override { return job_->failed(); }
  void cancel() override { job_->cancel(); }

 private:
  std::shared_ptr<reports::ExportJob> job_;
};

Response stream_answer(const ApiContext& ctx, std::shared_ptr<reports::ExportJob> job, reports::ExportFormat f,
                       const std::string& title) {
  Response r;
  r.status = 200;
  r.content_type = f == reports::ExportFormat::kXlsx
                       ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                       : "text/csv; charset=utf-8";
  r.headers.emplace_back("Content-Disposition", content_disposition(file_name(ctx, title, f), false));
  r.headers.emplace_back("Cache-Control", "no-store");
  r.source = std::make_shared<JobSource>(std::move(job));
  return r;
}

Result<reports::ExportFormat> format_of(const Request& req) {
  auto f = req.query_param("format");
  if (!f || f->empty()) return reports::ExportFormat::kXlsx;
  auto pf = reports::parse_export_format(*f);
  if (!pf) return Error::invalid("format", "invalid_format", "format must be xlsx or csv");
  return *pf;
}

void audit_export(ApiContext& ctx, const auth::Principal& who, const std::string& list, const Request& req,
                  const reports::ExportStats& st) {
  audit::Entry e;
  e.actor_id = who.user_id;
  e.actor = who.username;
  e.role = who.is_api_key ? "api_key" : std::string(auth::role_name(who.role));
  e.action = "export." + list;
  e.target = "list:" + list;
  e.source = who.source;
  e.result = st.cancelled ? "cancelled" : st.failed ? "failed" : "ok";
  json::object q;
  for (const auto& [k, v] : req.query) q[k] = v;
  e.detail = json::serialize(json::object{{"rows", st.rows}, {"bytes", st.bytes}, {"query", std::move(q)}});
  ctx.audit->append(*ctx.db, e);
}

const char* state_zh(alerts::AlertState s) {
  switch (s) {
    case alerts::AlertState::kOpen: return "待整改";
    case alerts::AlertState::kSubmitted: return "待复核";
    case alerts::AlertState::kClosed: return "已办结";
    case alerts::AlertState::kDismissed: return "误报";
  }
  return "";
}

}  // namespace

void add_export_routes(Router& r, ApiContext& ctx) {
  r.add("GET", "/api/v1/alerts/export", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(fmt, format_of(req));
      MC_TRY(f, alert_filter(ctx, req));
      // the filters are checked against the scope now (422 before the 200 starts)
      MC_TRY(first, ctx.alerts->list_after(*who, *f, std::nullopt, 1));
      std::vector<Column> cols = {{"预警编号", CellKind::kText, 24}, {"单位名称", CellKind::kText, 30},
                                  {"单位编号", CellKind::kText, 24}, {"预警类型", CellKind::kText, 16},
                                  {"风险等级", CellKind::kNumber, 8}, {"状态", CellKind::kText, 10},
                                  {"发现时间", CellKind::kText, 26}, {"最近抓拍", CellKind::kText, 26},
                                  {"抓拍次数", CellKind::kNumber, 10}, {"整改期限", CellKind::kText, 26},
                                  {"逾期", CellKind::kText, 6},      {"亮牌", CellKind::kText, 6},
                                  {"摄像头编号", CellKind::kText, 24}, {"置信度", CellKind::kNumber, 8},
                                  {"办结时间", CellKind::kText, 26}};
      auto p = *who;
      auto filter = *f;
      ApiContext* c = &ctx;
      auto producer = [c, p, filter](reports::RowWriter& w) -> Status {
        const auto& cfg = c->alerts->config();
        std::unordered_map<std::string, std::string> unit_names;
        std::optional<alerts::AlertCursor> after;
        std::vector<std::string> row(15);
        int off = c->options.utc_offset_minutes;
        for (;;) {
          auto page = c->alerts->list_after(p, filter, after, 2000);
          if (!page) return page.error();
          if (page->empty()) return ok_status();
          // names of the units not seen yet, in one query
          std::vector<std::string> missing;
          for (const auto& a : *page) {
            if (!unit_names.count(a.unit_id)) {
              unit_names[a.unit_id] = "";
              missing.push_back(a.unit_id);
            }
          }
          if (!missing.empty()) {
            storage::Conn conn = c->db->acquire();
            storage::for_each_chunk(missing, [&](const std::vector<std::string>& chunk) {
              storage::Params ps;
              std::string sql = "SELECT id, name FROM units WHERE id IN " + storage::in_list(ps, chunk);
              for (const auto& row2 : conn->query(sql, ps)) unit_names[row2.text(0)] = row2.text(1);
            });
          }
          for (const auto& a : *page) {
            const auto* t = cfg.find_type(a.type);
            row[0] = a.id;
            row[1] = unit_names[a.unit_id];
            row[2] = a.unit_id;
            row[3] = t ? t->name_zh : a.type;
            row[4] = std::to_string(a.risk_class);
            row[5] = state_zh(a.state);
            row[6] = format_rfc3339(a.occurred_at, off);
            row[7] = format_rfc3339(a.last_seen_at, off);
            row[8] = std::to_string(a.capture_count);
            row[9] = a.due_at ? format_rfc3339(*a.due_at, off) : "";
            row[10] = a.overdue ? "是" : "";
            row[11] = a.card ? (*a.card == "red" ? "红牌" : "黄牌") : "";
            row[12] = a.camera_id.value_or("");
            if (a.confidence) {
              char buf[32];
              std::snprintf(buf, sizeof buf, "%.3f", *a.confidence);
              row[13] = buf;
            } else {
              row[13].clear();
            }
            row[14] = a.handled_at ? format_rfc3339(*a.handled_at, off) : "";
            if (!w.add(row)) return ok_status();
          }
          after = alerts::AlertCursor{page->back().occurred_at, page->back().id};
          if (page->size() < 2000) return ok_status();
        }
      };
      Request copy = req;
      auto job = ctx.exports->start(*fmt, "预警", std::move(cols), std::move(producer),
                                    [c, p, copy](const reports::ExportStats& st) { audit_export(*c, p, "alerts", copy, st); });
      if (!job) return Response::error(job.error());
      return stream_answer(ctx, std::move(*job), *fmt, "预警");
    });
  });

  for (const auto& [name, spec] : list_exports()) {
    std::string list = name;
    const ListExport* le = &spec;
    r.add("GET", std::string(spec.list_path) + "/export", [&ctx, list, le](Request& req) {
      return guarded([&] {
        MC_TRY(who, authenticate(ctx, req));
        MC_TRY(fmt, format_of(req));
        constexpr int kPage = 200;
        // page 1 now: the list's own answer to a bad filter or a caller it refuses
        ListPage first = call_list(ctx, req, le->list_path, 1, kPage);
        if (first.resp.status != 200) return first.resp;
        std::vector<Column> cols;
        for (const auto& f : le->fields) cols.push_back(Column{f.title, f.kind, f.width});
        ApiContext* c = &ctx;
        auto items = std::make_shared<json::array>(std::move(first.items));
        Request copy = req;
        auto producer = [c, le, copy, items](reports::RowWriter& w) -> Status {
          std::vector<std::string> row(le->fields.size());
          json::array page = std::move(*items);
          for (int n = 1;; ++n) {
            for (const auto& it : page) {
              if (!it.is_object()) continue;
              for (size_t i = 0; i < le->fields.size(); ++i) row[i] = cell_of(at_path(it.as_object(), le->fields[i].path));
              if (!w.add(row)) return ok_status();
            }
            if (page.size() < static_cast<size_t>(kPage)) return ok_status();
            ListPage next = call_list(*c, copy, le->list_path, n + 1, kPage);
            if (next.resp.status != 200) return Error::internal("the list answered " + std::to_string(next.resp.status));
            page = std::move(next.items);
          }
        };
        auto p = *who;
        auto job = ctx.exports->start(*fmt, le->file_title, std::move(cols), std::move(producer),
                                      [c, p, list, copy](const reports::ExportStats& st) { audit_export(*c, p, list, copy, st); });
        if (!job) return Response::error(job.error());
        return stream_answer(ctx, std::move(*job), *fmt, le->file_title);
      });
    });
  }
}

}  // namespace mingchu::http
