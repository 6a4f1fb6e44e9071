// Reports and exchange (API.md "Reports and exchange"): the PDFs (整改通知书, 三书一函, 月度
// 监管报告), the per-jurisdiction templates of the enforcement documents. Thin: parse,
// authorize, call reports::ReportService, send the bytes.
#include "core/time.hpp"
#include "http/handler_util.hpp"
#include "reports/report_service.hpp"
#include "reports/exchange.hpp"
#include "reports/schedules.hpp"

namespace mingchu::http {
namespace {

// Content-Disposition with the UTF-8 name (RFC 6266 / 5987) and an ASCII fallback.
std::string disposition(const std::string& name, bool inline_view) {
  static const char* hex = "0123456789ABCDEF";
  std::string enc, ascii;
  for (unsigned char ch : name) {
    if (std::isalnum(ch) || ch == '.' || ch == '-' || ch == '_') {
      enc += static_cast<char>(ch);
      ascii += static_cast<char>(ch);
    } else {
      enc += '%';
      enc += hex[ch >> 4];
      enc += hex[ch & 15];
      if (ch < 0x80) ascii += '_';
    }
  }
  if (ascii.empty() || ascii.front() == '.') ascii = "report" + ascii;
  return std::string(inline_view ? "inline" : "attachment") + "; filename=\"" + ascii + "\"; filename*=UTF-8''" + enc;
}

Response pdf_answer(const Result<std::string>& pdf, const std::string& filename, const Request& req) {
  if (!pdf) return Response::error(pdf.error());
  Response r;
  r.status = 200;
  r.content_type = "application/pdf";
  r.body = *pdf;
  bool view = req.query_param("inline").value_or("") == "true";
  r.headers.emplace_back("Content-Disposition", disposition(filename, view));
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

json::object template_json(const ApiContext& ctx, const reports::TemplateRecord& t) {
  return json::object{{"jurisdiction_id", t.jurisdiction_id.empty() ? json::value(nullptr) : json::value(t.jurisdiction_id)},
                      {"kind", t.kind},
                      {"title", t.title},
                      {"body", t.body},
                      {"org", t.org},
                      {"signature", t.signature},
                      {"seal_file_id", t.seal_file_id ? json::value(*t.seal_file_id) : json::value(nullptr)},
                      {"inherited", t.inherited},
                      {"updated_at", t.updated_at ? json::value(format_time(ctx, t.updated_at)) : json::value(nullptr)},
                      {"placeholders", [] {
                         json::array a;
                         for (const char* f : reports::kTemplateFields) a.emplace_back(f);
                         return a;
                       }()}};
}

json::object schedule_json(const ApiContext& ctx, const reports::Schedule& s) {
  json::array users, emails;
  for (const auto& u : s.recipients.users) users.emplace_back(u);
  for (const auto& e : s.recipients.emails) emails.emplace_back(e);
  json::object rec{{"users", std::move(users)}, {"emails", std::move(emails)}};
  rec["webhook_id"] = s.recipients.webhook_id ? json::value(*s.recipients.webhook_id) : json::value(nullptr);
  return json::object{{"id", s.id},
                      {"report", s.report},
                      {"jurisdiction_id", s.jurisdiction_id ? json::value(*s.jurisdiction_id) : json::value(nullptr)},
                      {"unit_id", s.unit_id ? json::value(*s.unit_id) : json::value(nullptr)},
                      {"cron", s.cron},
                      {"time_zone", "Asia/Shanghai"},
                      {"recipients", std::move(rec)},
                      {"enabled", s.enabled},
                      {"next_run_at", format_time(ctx, s.next_run_at)},
                      {"last_run_at", time_or_null(ctx, s.last_run_at)},
                      {"last_error", s.last_error ? json::value(*s.last_error) : json::value(nullptr)},
                      {"created_by", s.created_by},
                      {"created_at", format_time(ctx, s.created_at)}};
}

json::object archive_json(const ApiContext& ctx, const reports::ArchiveEntry& a) {
  json::array ds;
  for (const auto& d : a.deliveries) {
    ds.push_back(json::object{{"id", d.id},
                              {"channel", d.channel},
                              {"target", d.target},
                              {"state", d.state},
                              {"attempts", d.attempts},
                              {"last_error", d.last_error ? json::value(*d.last_error) : json::value(nullptr)},
                              {"delivered_at", time_or_null(ctx, d.delivered_at)},
                              {"next_attempt_at", format_time(ctx, d.next_attempt_at)}});
  }
  return json::object{{"id", a.id},
                      {"schedule_id", a.schedule_id ? json::value(*a.schedule_id) : json::value(nullptr)},
                      {"report", a.report},
                      {"title", a.title},
                      {"filename", a.filename},
                      {"content_type", a.content_type},
                      {"size", a.size},
                      {"sha256", a.sha256},
                      {"sm3", a.sm3},
                      {"period_from", format_time(ctx, a.period_from)},
                      {"period_to", format_time(ctx, a.period_to)},
                      {"created_at", format_time(ctx, a.created_at)},
                      {"deliveries", std::move(ds)}};
}

// The body of POST/PATCH /report-schedules; `creating` requires report and target fields.
Result<reports::ScheduleInput> schedule_input(const json::object& body, bool creating) {
  ObjectReader rd(body);
  reports::ScheduleInput in;
  if (creating) {
    in.report = rd.req_string("report", 32);
    in.jurisdiction_id = rd.opt_string("jurisdiction_id", 64);
    in.unit_id = rd.opt_string("unit_id", 64);
  }
  in.cron = rd.req_string("cron", 64);
  in.enabled = rd.opt_bool("enabled");
  if (const json::object* rec = rd.opt_object("recipients")) {
    ObjectReader rr(*rec, "recipients");
    auto strings = [&](const char* key, size_t max_items, size_t max_chars, std::vector<std::string>& out) {
      if (const json::array* a = rr.opt_array(key, max_items)) {
        for (const auto& v : *a) {
          if (!v.is_string() || v.as_string().size() > max_chars || v.as_string().empty()) {
            rr.fail(key, "invalid_value", std::string("recipients.") + key + " must be a list of non-empty strings");
            return;
          }
          out.emplace_back(v.as_string());
        }
      }
    };
    strings("users", 50, 64, in.recipients.users);
    strings("emails", 20, 254, in.recipients.emails);
    in.recipients.webhook_id = rr.opt_string("webhook_id", 64);
    if (auto st = rr.finish(); !st) return st.error();
  } else if (!rd.has("recipients")) {
    rd.fail("recipients", "missing_field", "field 'recipients' is required");
  }
  if (auto st = rd.finish(); !st) return st.error();
  return in;
}

}  // namespace

std::string content_disposition(const std::string& name, bool inline_view) { return disposition(name, inline_view); }

void add_export_routes(Router& r, ApiContext& ctx);

void add_report_routes(Router& r, ApiContext& ctx) {
  add_export_routes(r, ctx);

  r.add("GET", "/api/v1/report-schedules", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(pg, page_params(req));
      MC_TRY(l, ctx.schedules->list(*who, pg->page, pg->page_size));
      json::array items;
      for (const auto& s : l->first) items.push_back(schedule_json(ctx, s));
      return Response::json(200, list_body(std::move(items), l->second, *pg));
    });
  });
  r.add(
      "POST", "/api/v1/report-schedules",
      [&ctx](Request& req) {
        return guarded([&] {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, schedule_input(*body, true));
          MC_TRY(s, ctx.schedules->create(*who, *in));
          return Response::json(201, schedule_json(ctx, *s));
        });
      },
      16 * 1024);
  r.add("GET", "/api/v1/report-schedules/{id}", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(s, ctx.schedules->get(*who, req.param("id")));
      return Response::json(200, schedule_json(ctx, *s));
    });
  });
  r.add(
      "PATCH", "/api/v1/report-schedules/{id}",
      [&ctx](Request& req) {
        return guarded([&] {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, schedule_input(*body, false));
          MC_TRY(s, ctx.schedules->update(*who, req.param("id"), *in));
          return Response::json(200, schedule_json(ctx, *s));
        });
      },
      16 * 1024);
  r.add("DELETE", "/api/v1/report-schedules/{id}", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(st, ctx.schedules->remove(*who, req.param("id")));
      return Response::no_content();
    });
  });
  r.add(
      "POST", "/api/v1/report-schedules/{id}/run",
      [&ctx](Request& req) {
        return guarded([&] {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(a, ctx.schedules->run_now(*who, req.param("id")));
          return Response::json(201, archive_json(ctx, *a));
        });
      },
      1024);
  r.add("GET", "/api/v1/report-archive", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(pg, page_params(req));
      MC_TRY(l, ctx.schedules->archive(*who, pg->page, pg->page_size));
      json::array items;
      for (const auto& a : l->first) items.push_back(archive_json(ctx, a));
      return Response::json(200, list_body(std::move(items), l->second, *pg));
    });
  });
  r.add("GET", "/api/v1/report-archive/{id}", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(a, ctx.schedules->archive_entry(*who, req.param("id")));
      return Response::json(200, archive_json(ctx, *a));
    });
  });
  r.add("GET", "/api/v1/report-archive/{id}/file", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(f, ctx.schedules->archive_file(*who, req.param("id")));
      Response resp;
      resp.content_type = f->first.content_type;
      resp.body = std::move(f->second);
      resp.headers.emplace_back("Content-Disposition", disposition(f->first.filename, false));
      resp.headers.emplace_back("X-Content-SM3", f->first.sm3);
      resp.headers.emplace_back("Cache-Control", "no-store");
      return resp;
    });
  });
  r.add(
      "POST", "/api/v1/report-deliveries/{id}/retry",
      [&ctx](Request& req) {
        return guarded([&] {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(a, ctx.schedules->retry_delivery(*who, req.param("id")));
          return Response::json(200, archive_json(ctx, *a));
        });
      },
      1024);
  r.add(
      "POST", "/api/v1/exchange/batches",
      [&ctx](Request& req) {
        return guarded([&] {
          // a lower platform's batch is data coming in: the key's ingest permission, as for events
          MC_TRY(who, authenticate_ingest(ctx, req));
          MC_TRY(res, ctx.exchange->receive(*who, req.header("x-api-key").value_or(""),
                                            req.header("x-mingchu-timestamp").value_or(""),
                                            req.header("x-mingchu-signature").value_or(""), req.body));
          return Response::json(200, json::object{{"batch_id", res->batch_id},
                                                  {"duplicate", res->duplicate},
                                                  {"applied", res->applied},
                                                  {"stale", res->stale},
                                                  {"repeated", res->repeated}});
        });
      },
      8 * 1024 * 1024);
  r.add("GET", "/api/v1/exchange/sources", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(s, ctx.exchange->sources(*who, ctx.options.utc_offset_minutes));
      return Response::json(200, json::object{{"items", std::move(*s)}});
    });
  });
  r.add("GET", "/api/v1/exchange/{kind}", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, authenticate(ctx, req));
      std::string kind = req.param("kind");
      if (kind != "alerts" && kind != "units" && kind != "cameras" && kind != "stats")
        return Response::error(Error::not_found("exchange list"));
      MC_TRY(pg, page_params(req));
      reports::ExchangeReceiver::Query q;
      q.kind = kind == "stats" ? kind : kind.substr(0, kind.size() - 1);
      if (auto v = req.query_param("state"); v && !v->empty()) q.state = *v;
      if (auto v = req.query_param("source"); v && !v->empty()) q.source = *v;
      q.page = pg->page;
      q.page_size = pg->page_size;
      MC_TRY(l, ctx.exchange->list(*who, q, ctx.options.utc_offset_minutes));
      return Response::json(200, list_body(std::move(l->first), l->second, *pg));
    });
  });

  if (ctx.options.manual_clock) {
    // test-only, like /admin/scheduler/run: run due scheduled reports and deliveries now
    r.add(
        "POST", "/api/v1/admin/report-scheduler/run",
        [&ctx](Request& req) {
          return guarded([&] {
            MC_TRY(who, authenticate_role(ctx, req, auth::Role::kPlatformAdmin));
            auto t = ctx.schedules->tick();
            return Response::json(200, json::object{{"runs", t.runs}, {"delivered", t.delivered}, {"failed", t.failed}});
          });
        },
        1024);
  }
  r.add("GET", "/api/v1/alerts/{id}/notice.pdf", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, authenticate(ctx, req));
      std::string name;
      auto pdf = ctx.reports->notice_pdf(*who, req.param("id"), &name);
      return pdf_answer(pdf, name, req);
    });
  });

  r.add("GET", "/api/v1/alerts/{id}/documents/{doc_id}.pdf", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, authenticate(ctx, req));
      std::string name;
      auto pdf = ctx.reports->document_pdf(*who, req.param("id"), req.param("doc_id"), &name);
      return pdf_answer(pdf, name, req);
    });
  });

  r.add("GET", "/api/v1/units/{id}/archive.pdf", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, authenticate(ctx, req));
      std::string name;
      auto pdf = ctx.reports->unit_archive_pdf(*who, req.param("id"), &name);
      return pdf_answer(pdf, name, req);
    });
  });

  r.add("GET", "/api/v1/reports/monthly.pdf", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, authenticate(ctx, req));
      reports::MonthlyQuery q;
      auto jid = req.query_param("jurisdiction_id");
      if (jid && !jid->empty()) q.jurisdiction_id = *jid;
      q.month = req.query_param("month").value_or("");
      if (q.month.empty())
        return Response::error(Error::invalid("month", "missing_field", "month (YYYY-MM) is required"));
      q.to_month = req.query_param("to_month");
      std::string name;
      auto pdf = ctx.reports->monthly_pdf(*who, q, &name);
      return pdf_answer(pdf, name, req);
    });
  });

  r.add("GET", "/api/v1/jurisdictions/{id}/document-templates/{kind}", [&ctx](Request& req) {
    return guarded([&] {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(t, ctx.reports->get_template(*who, req.param("id"), req.param("kind")));
      return Response::json(200, template_json(ctx, *t));
    });
  });

  r.add(
      "PUT", "/api/v1/jurisdictions/{id}/document-templates/{kind}",
      [&ctx](Request& req) {
        return guarded([&] {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(body, read_json(req));
          ObjectReader rd(*body);
          reports::TemplateInput in;
          in.title = rd.req_string("title", 200);
          in.body = rd.req_string("body", 20000);
          in.org = rd.opt_string("org", 200).value_or("");
          in.signature = rd.opt_string("signature", 200).value_or("");
          in.seal_file_id = rd.opt_string("seal_file_id", 64);
          if (auto st = rd.finish(); !st) return Response::error(st.error());
          MC_TRY(t, ctx.reports->put_template(*who, req.param("id"), req.param("kind"), in));
          return Response::json(200, template_json(ctx, *t));
        });
      },
      64 * 1024);
}

}  // namespace mingchu::http
