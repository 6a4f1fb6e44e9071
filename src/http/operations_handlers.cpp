// The operations ledgers (API.md "Operations"): suppliers, acceptances, return notes, stock,
// samples, deliveries, meal batches, warnings, and the public traceability page. Every list
// filters unit_id, jurisdiction_id, from, to and answers CSV with ?format=csv.
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "http/handler_util.hpp"
#include "http/security_headers.hpp"
#include "operations/json_io.hpp"
#include "operations/ledgers.hpp"
#include "operations/operations.hpp"
#include "operations/sensors.hpp"
#include "registry/registry.hpp"

namespace mingchu::http {
namespace {

using operations::ListFilter;
using operations::PageRequest;

constexpr size_t kJsonBodyLimit = 64 * 1024;
constexpr int kMaxCsvRows = 10000;

// unit_id, jurisdiction_id, from, to: the filters every ledger list takes.
Result<ListFilter> list_filter(const ApiContext& ctx, const Request& req) {
  ListFilter f;
  auto unit = query_id(req, "unit_id");
  if (!unit) return unit.error();
  auto jid = query_id(req, "jurisdiction_id");
  if (!jid) return jid.error();
  auto from = query_time(ctx, req, "from");
  if (!from) return from.error();
  auto to = query_time(ctx, req, "to");
  if (!to) return to.error();
  f.unit_id = *unit;
  f.jurisdiction_id = *jid;
  f.from = *from;
  f.to = *to;
  return f;
}

bool wants_csv(const Request& req) {
  auto f = req.query_param("format");
  return f && *f == "csv";
}

// A CSV cell (RFC 4180), with text that a spreadsheet would run as a formula made inert.
std::string csv_cell(const json::value& v) {
  std::string s;
  if (v.is_string()) {
    s = std::string(v.as_string());
    if (!s.empty() && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r')) {
      s = "'" + s;
    }
  } else if (v.is_null()) {
    return "";
  } else if (v.is_array()) {
    bool strings = true;
    for (const auto& e : v.as_array()) strings = strings && e.is_string();
    if (strings) {
      for (const auto& e : v.as_array()) s += (s.empty() ? "" : ";") + std::string(e.as_string());
    } else {
      s = json::serialize(v);
    }
  } else if (v.is_object()) {
    s = json::serialize(v);
  } else if (v.is_bool()) {
    s = v.as_bool() ? "true" : "false";
  } else {
    s = json::serialize(v);
  }
  if (s.find_first_of(",\"\r\n") != std::string::npos) {
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  }
  return s;
}

Response csv_answer(const json::array& items, std::string_view name) {
  std::string body = "\xEF\xBB\xBF";  // BOM: spreadsheets on Chinese Windows read UTF-8 only with it
  if (!items.empty() && items[0].is_object()) {
    std::vector<std::string> cols;
    for (const auto& kv : items[0].as_object()) cols.emplace_back(kv.key());
    for (size_t i = 0; i < cols.size(); ++i) body += (i ? "," : "") + cols[i];
    body += "\r\n";
    for (const auto& it : items) {
      const auto& o = it.as_object();
      for (size_t i = 0; i < cols.size(); ++i) {
        if (i) body += ",";
        auto f = o.find(cols[i]);
        if (f != o.end()) body += csv_cell(f->value());
      }
      body += "\r\n";
    }
  }
  Response r;
  r.content_type = "text/csv; charset=utf-8";
  r.body = std::move(body);
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + std::string(name) + ".csv\"");
  return r;
}

// A list answer: JSON page, or with ?format=csv every matching row (up to kMaxCsvRows).
template <typename T, typename Load, typename Fmt>
Response ledger_list(const Request& req, std::string_view name, Load load, Fmt fmt) {
  bool csv = wants_csv(req);
  if (auto f = req.query_param("format"); f && !f->empty() && *f != "csv" && *f != "json") {
    return Response::error(Error::invalid("format", "invalid_value", "format must be json or csv"));
  }
  MC_TRY(pg, page_params(req));
  PageRequest page{pg->page, pg->page_size};
  if (csv) page = PageRequest{1, kMaxCsvRows};
  Result<operations::Page<T>> r = load(page);
  if (!r) return Response::error(r.error());
  json::array items;
  items.reserve(r->items.size());
  for (const auto& item : r->items) items.emplace_back(fmt(item));
  if (csv) {
    Response resp = csv_answer(items, name);
    resp.headers.emplace_back("X-Total-Count", std::to_string(r->total));
    return resp;
  }
  json::object body = list_body(std::move(items), r->total, *pg);
  if (r->total >= operations::kListCountCap) body["total_capped"] = true;  // at least this many
  return Response::json(200, std::move(body));
}

template <typename T, typename Fmt>
Response one(const Result<T>& r, int status, Fmt fmt) {
  if (!r) return Response::error(r.error());
  return Response::json(status, fmt(*r));
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A field for people: numbers without exponents ("12.5", not "1.25E1"), times to the minute.
std::string str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return "";
  const json::value& v = it->value();
  if (v.is_string()) {
    std::string s(v.as_string());
    // RFC 3339 "2026-12-02T08:21:31.637+08:00" → "2026-12-02 08:21"
    if (s.size() >= 19 && s[4] == '-' && s[10] == 'T' && s[13] == ':') return s.substr(0, 10) + " " + s.substr(11, 5);
    return s;
  }
  if (v.is_double()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", v.as_double());
    std::string s = buf;
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
    return s;
  }
  return json::serialize(v);
}

// The traceability page for people (扫码溯源): everything the JSON says, no script, no login.
std::string trace_html(const json::object& t) {
  std::string h =
      "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      "<title>食品溯源 " +
      html_escape(str(t, "trace_code")) +
      "</title><style>body{font-family:sans-serif;margin:0 auto;max-width:720px;padding:12px;color:#222}"
      "h1{font-size:1.3em}h2{font-size:1.1em;border-bottom:1px solid #ddd;padding-bottom:4px}"
      "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:4px;text-align:left;"
      "font-size:.9em}.ok{color:#2a7}.bad{color:#c33}</style></head><body>";
  const auto& unit = t.at("unit").as_object();
  h += "<h1 id=\"dish\">" + html_escape(str(t, "dish")) + "</h1>";
  h += "<p>溯源码 Trace code: <b id=\"trace-code\">" + html_escape(str(t, "trace_code")) +
       "</b><br>出品单位 Kitchen: " + html_escape(str(unit, "name")) +
       "<br>出品时间 Produced: " + html_escape(str(t, "produced_at")) + "</p>";
  h += "<h2>原料 Ingredients</h2><table id=\"ingredients\"><tr><th>原料</th><th>数量</th><th>批次</th>"
       "<th>生产日期</th><th>保质期至</th><th>供应商</th><th>验收</th></tr>";
  for (const auto& v : t.at("ingredients").as_array()) {
    const auto& i = v.as_object();
    const auto& b = i.at("batch").as_object();
    const auto& s = i.at("supplier").as_object();
    const auto& a = i.at("acceptance").as_object();
    bool ok = a.at("sensory_ok").as_bool();
    h += "<tr><td>" + html_escape(str(i, "item")) + "</td><td>" + html_escape(str(i, "quantity")) + " " +
         html_escape(str(i, "unit_of_measure")) + "</td><td>" + html_escape(str(b, "batch_no")) + "</td><td>" +
         html_escape(str(b, "produced_on")) + "</td><td>" + html_escape(str(b, "expires_on")) + "</td><td>" +
         html_escape(str(s, "name")) + "<br><small>" + html_escape(str(s, "uscc")) + "</small></td><td class=\"" +
         (ok ? "ok\">合格" : "bad\">不合格") + " · " + html_escape(str(a, "inspector")) + "</td></tr>";
  }
  h += "</table>";
  h += "<h2>留样 Sample</h2>";
  if (t.at("sample").is_object()) {
    const auto& s = t.at("sample").as_object();
    h += "<p id=\"sample\">" + html_escape(str(s, "weight_g")) + " g · " + html_escape(str(s, "kept_at")) +
         " · 留样人 " + html_escape(str(s, "keeper")) + " · 保存至 " + html_escape(str(s, "dispose_after")) + "</p>";
  } else {
    h += "<p id=\"sample\" class=\"bad\">无留样记录 No sample recorded</p>";
  }
  h += "<h2>配送 Delivery</h2>";
  if (t.at("delivery").is_object()) {
    const auto& d = t.at("delivery").as_object();
    h += "<p id=\"delivery\">" + html_escape(str(d, "client_name")) + " · " + html_escape(str(d, "vehicle_plate")) +
         " · 司机 " + html_escape(str(d, "driver")) + "<br>发车 " + html_escape(str(d, "dispatched_at"));
    if (d.contains("handover")) {
      const auto& ho = d.at("handover").as_object();
      h += "<br>交付 " + html_escape(str(d, "arrived_at")) + " · 签收人 " + html_escape(str(ho, "received_by")) +
           " · " + html_escape(str(ho, "portions")) + " 份";
    } else {
      h += "<br>运输中 In transit";
    }
    h += "</p>";
  } else {
    h += "<p id=\"delivery\">本餐次无配送 Not delivered</p>";
  }
  h += "</body></html>";
  return h;
}

}  // namespace

void add_operations_routes(Router& r, ApiContext& ctx) {
  const int off = ctx.options.utc_offset_minutes;
  operations::Operations& ops = *ctx.operations;

  // ---------------------------------------------------------------- suppliers
  auto supplier_fmt = [&ops, off](const operations::Supplier& s) {
    return operations::to_json(s, off, ops.today(), ops.config().qualification_expiring_days);
  };
  r.add("GET", "/api/v1/suppliers", [&ctx, &ops, supplier_fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(f, list_filter(ctx, req));
      return ledger_list<operations::Supplier>(
          req, "suppliers", [&](PageRequest pg) { return ops.list_suppliers(*who, *f, pg); }, supplier_fmt);
    });
  });
  r.add(
      "POST", "/api/v1/suppliers",
      [&ctx, &ops, supplier_fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, operations::parse_supplier(*body));
          return one(ops.create_supplier(*who, *in), 201, supplier_fmt);
        });
      },
      kJsonBodyLimit);
  r.add("GET", "/api/v1/suppliers/{id}", [&ctx, &ops, supplier_fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      return one(ops.get_supplier(*who, *id), 200, supplier_fmt);
    });
  });

  // ---------------------------------------------------------------- acceptances, return notes
  auto fmt = [off](const auto& v) { return operations::to_json(v, off); };
  r.add("GET", "/api/v1/acceptances", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(f, list_filter(ctx, req));
      return ledger_list<operations::Acceptance>(
          req, "acceptances", [&](PageRequest pg) { return ops.list_acceptances(*who, *f, pg); }, fmt);
    });
  });
  r.add(
      "POST", "/api/v1/acceptances",
      [&ctx, &ops, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, operations::parse_acceptance(*body));
          return one(ops.create_acceptance(*who, *in), 201, fmt);
        });
      },
      kJsonBodyLimit);
  r.add("GET", "/api/v1/acceptances/{id}", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      return one(ops.get_acceptance(*who, *id), 200, fmt);
    });
  });
  r.add("GET", "/api/v1/return-notes", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(f, list_filter(ctx, req));
      return ledger_list<operations::ReturnNote>(
          req, "return-notes", [&](PageRequest pg) { return ops.list_return_notes(*who, *f, pg); }, fmt);
    });
  });

  // ---------------------------------------------------------------- stock
  r.add(
      "POST", "/api/v1/stock/in",
      [&ctx, &ops, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, operations::parse_stock_in(*body));
          return one(ops.stock_in(*who, *in), 201, fmt);
        });
      },
      kJsonBodyLimit);
  r.add(
      "POST", "/api/v1/stock/out",
      [&ctx, &ops, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, operations::parse_stock_out(*body));
          return one(ops.stock_out(*who, *in), 201, fmt);
        });
      },
      kJsonBodyLimit);
  r.add("GET", "/api/v1/stock", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(base, list_filter(ctx, req));
      operations::StockFilter f;
      static_cast<ListFilter&>(f) = *base;
      if (auto d = req.query_param("expiring_within_days"); d && !d->empty()) {
        int n = -1;
        if (d->size() <= 4 && d->find_first_not_of("0123456789") == std::string::npos) n = std::stoi(*d);
        if (n < 0 || n > 3650) {
          return Response::error(Error::invalid("expiring_within_days", "invalid_value",
                                                "expiring_within_days must be a whole number of days, 0 to 3650"));
        }
        f.expiring_within_days = n;
      }
      if (auto item = req.query_param("item"); item && !item->empty()) {
        if (utf8_length(*item) > 64 || has_control_chars(*item, false)) {
          return Response::error(Error::invalid("item", "invalid_query", "item must be at most 64 characters"));
        }
        f.item = *item;
      }
      f.include_empty = req.query_param("include_empty").value_or("") == "true";
      return ledger_list<operations::StockBatch>(
          req, "stock", [&](PageRequest pg) { return ops.list_stock(*who, f, pg); }, fmt);
    });
  });
  r.add("GET", "/api/v1/stock/outs", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(f, list_filter(ctx, req));
      return ledger_list<operations::StockOut>(
          req, "stock-outs", [&](PageRequest pg) { return ops.list_stock_outs(*who, *f, pg); }, fmt);
    });
  });

  // ---------------------------------------------------------------- samples
  r.add("GET", "/api/v1/samples", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(f, list_filter(ctx, req));
      return ledger_list<operations::Sample>(
          req, "samples", [&](PageRequest pg) { return ops.list_samples(*who, *f, pg); }, fmt);
    });
  });
  r.add(
      "POST", "/api/v1/samples",
      [&ctx, &ops, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, operations::parse_sample(*body));
          return one(ops.create_sample(*who, *in), 201, fmt);
        });
      },
      kJsonBodyLimit);
  r.add(
      "POST", "/api/v1/samples/{id}/dispose",
      [&ctx, &ops, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(id, path_id(req));
          return one(ops.dispose_sample(*who, *id), 200, fmt);
        });
      },
      1024);

  // ---------------------------------------------------------------- deliveries
  r.add("GET", "/api/v1/delivery-trips", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(f, list_filter(ctx, req));
      return ledger_list<operations::Delivery>(
          req, "delivery-trips", [&](PageRequest pg) { return ops.list_deliveries(*who, *f, pg); }, fmt);
    });
  });
  r.add(
      "POST", "/api/v1/delivery-trips",
      [&ctx, &ops, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, operations::parse_delivery(*body));
          return one(ops.create_delivery(*who, *in), 201, fmt);
        });
      },
      kJsonBodyLimit);
  r.add("GET", "/api/v1/delivery-trips/{id}", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      return one(ops.get_delivery(*who, *id), 200, fmt);
    });
  });
  r.add(
      "POST", "/api/v1/delivery-trips/{id}/handover",
      [&ctx, &ops, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(id, path_id(req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, operations::parse_handover(*body));
          return one(ops.hand_over(*who, *id, *in), 200, fmt);
        });
      },
      kJsonBodyLimit);

  // ---------------------------------------------------------------- meal batches, warnings
  r.add("GET", "/api/v1/meal-batches", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(f, list_filter(ctx, req));
      return ledger_list<operations::MealBatch>(
          req, "meal-batches", [&](PageRequest pg) { return ops.list_meal_batches(*who, *f, pg); }, fmt);
    });
  });
  r.add(
      "POST", "/api/v1/meal-batches",
      [&ctx, &ops, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, operations::parse_meal_batch(*body));
          return one(ops.create_meal_batch(*who, *in), 201, fmt);
        });
      },
      kJsonBodyLimit);
  r.add("GET", "/api/v1/meal-batches/{id}", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      return one(ops.get_meal_batch(*who, *id), 200, fmt);
    });
  });
  r.add("GET", "/api/v1/operations/warnings", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(f, list_filter(ctx, req));
      return ledger_list<operations::Warning>(
          req, "warnings", [&](PageRequest pg) { return ops.list_warnings(*who, *f, pg); }, fmt);
    });
  });

  // ---------------------------------------------------------------- the other ledgers
  operations::Ledgers& led = *ctx.ledgers;
  auto rec_fmt = [off](const operations::LedgerRecord& rec) {
    json::object o = operations::to_json(rec, off);
    // flat for CSV and tables: the kind's fields beside the common ones
    for (const auto& kv : rec.fields) {
      if (!o.contains(kv.key())) o[kv.key()] = kv.value();
    }
    o.erase("fields");
    return o;
  };
  for (const auto& info : operations::ledgers()) {
    const std::string name = info.ledger;
    r.add("GET", "/api/v1/" + name, [&ctx, &led, rec_fmt, name](Request& req) {
      return guarded([&]() -> Response {
        MC_TRY(who, authenticate(ctx, req));
        MC_TRY(base, list_filter(ctx, req));
        operations::LedgerFilter f;
        static_cast<ListFilter&>(f) = *base;
        if (auto k = req.query_param("kind"); k && !k->empty()) {
          if (k->size() > 32) return Response::error(Error::invalid("kind", "invalid_value", "unknown kind"));
          f.kind = *k;
        }
        if (auto a = req.query_param("abnormal"); a && !a->empty()) {
          if (*a != "true" && *a != "false") {
            return Response::error(Error::invalid("abnormal", "invalid_value", "abnormal must be true or false"));
          }
          f.abnormal = *a == "true";
        }
        return ledger_list<operations::LedgerRecord>(
            req, name, [&](PageRequest pg) { return led.list(*who, name, f, pg); }, rec_fmt);
      });
    });
    r.add(
        "POST", "/api/v1/" + name,
        [&ctx, &led, rec_fmt, name](Request& req) {
          return guarded([&]() -> Response {
            MC_TRY(who, authenticate(ctx, req));
            MC_TRY(body, read_json(req));
            MC_TRY(in, operations::parse_ledger_record(name, *body));
            return one(led.create(*who, name, *in), 201, rec_fmt);
          });
        },
        kJsonBodyLimit);
    r.add("GET", "/api/v1/" + name + "/{id}", [&ctx, &led, rec_fmt, name](Request& req) {
      return guarded([&]() -> Response {
        MC_TRY(who, authenticate(ctx, req));
        MC_TRY(id, path_id(req));
        return one(led.get(*who, name, *id), 200, rec_fmt);
      });
    });
  }
  r.add("GET", "/api/v1/ledger-kinds", [&ctx](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      json::array kinds = operations::ledger_schema();
      std::int64_t n = static_cast<std::int64_t>(kinds.size());
      return Response::json(200, json::object{{"items", std::move(kinds)}, {"total", n}});
    });
  });

  // ---------------------------------------------------------------- purchasing, price history, stock counts
  r.add("GET", "/api/v1/purchase-orders", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(f, list_filter(ctx, req));
      return ledger_list<operations::PurchaseOrder>(
          req, "purchase-orders", [&](PageRequest pg) { return ops.list_purchase_orders(*who, *f, pg); }, fmt);
    });
  });
  r.add(
      "POST", "/api/v1/purchase-orders",
      [&ctx, &ops, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, operations::parse_purchase_order(*body));
          return one(ops.create_purchase_order(*who, *in), 201, fmt);
        });
      },
      kJsonBodyLimit);
  r.add("GET", "/api/v1/purchase-orders/{id}", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      return one(ops.get_purchase_order(*who, *id), 200, fmt);
    });
  });
  r.add(
      "POST", "/api/v1/purchase-orders/{id}/decision",
      [&ctx, &ops, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(id, path_id(req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, operations::parse_purchase_decision(*body));
          return one(ops.decide_purchase_order(*who, *id, *in), 200, fmt);
        });
      },
      4096);
  r.add(
      "POST", "/api/v1/purchase-orders/{id}/order",
      [&ctx, &ops, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(id, path_id(req));
          return one(ops.place_purchase_order(*who, *id), 200, fmt);
        });
      },
      1024);
  r.add("GET", "/api/v1/price-history", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(base, list_filter(ctx, req));
      operations::PriceFilter f;
      static_cast<ListFilter&>(f) = *base;
      if (auto item = req.query_param("item"); item && !item->empty()) {
        if (utf8_length(*item) > 64 || has_control_chars(*item, false)) {
          return Response::error(Error::invalid("item", "invalid_query", "item must be at most 64 characters"));
        }
        f.item = *item;
      }
      return ledger_list<operations::PricePoint>(
          req, "price-history", [&](PageRequest pg) { return ops.list_prices(*who, f, pg); }, fmt);
    });
  });
  r.add("GET", "/api/v1/stock-counts", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(f, list_filter(ctx, req));
      return ledger_list<operations::StockCount>(
          req, "stock-counts", [&](PageRequest pg) { return ops.list_stock_counts(*who, *f, pg); }, fmt);
    });
  });
  r.add(
      "POST", "/api/v1/stock-counts",
      [&ctx, &ops, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, operations::parse_stock_count(*body));
          return one(ops.create_stock_count(*who, *in), 201, fmt);
        });
      },
      kJsonBodyLimit);
  r.add("GET", "/api/v1/stock-counts/{id}", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      return one(ops.get_stock_count(*who, *id), 200, fmt);
    });
  });
  r.add(
      "POST", "/api/v1/stock-counts/{id}/confirm",
      [&ctx, &ops, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(id, path_id(req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, operations::parse_stock_count_confirm(*body));
          return one(ops.confirm_stock_count(*who, *id, *in), 200, fmt);
        });
      },
      1024);
  r.add("GET", "/api/v1/stock/movements", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(f, list_filter(ctx, req));
      return ledger_list<operations::StockMovement>(
          req, "stock-movements", [&](PageRequest pg) { return ops.list_stock_movements(*who, *f, pg); }, fmt);
    });
  });

  // ---------------------------------------------------------------- delivery tracks
  r.add(
      "PUT", "/api/v1/delivery-trips/{id}/route",
      [&ctx, &ops](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(id, path_id(req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, operations::parse_route(*body));
          MC_TRY(out, ops.set_route(*who, *id, *in));
          return Response::json(200, std::move(*out));
        });
      },
      kJsonBodyLimit);
  r.add(
      "POST", "/api/v1/delivery-trips/{id}/track",
      [&ctx, &ops](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(id, path_id(req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, operations::parse_track(*body));
          MC_TRY(out, ops.add_track(*who, *id, *in));
          return Response::json(201, std::move(*out));
        });
      },
      kJsonBodyLimit);
  r.add(
      "PUT", "/api/v1/delivery-trips/{id}/vehicle-device",
      [&ctx, &ops](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(id, path_id(req));
          MC_TRY(body, read_json(req));
          MC_TRY(device, operations::parse_vehicle_device(*body));
          MC_TRY(out, ops.bind_vehicle_device(*who, *id, *device));
          return Response::json(200, std::move(*out));
        });
      },
      1024);
  r.add("GET", "/api/v1/delivery-trips/{id}/track", [&ctx, &ops](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      MC_TRY(out, ops.get_track(*who, *id));
      return Response::json(200, std::move(*out));
    });
  });

  // ---------------------------------------------------------------- dishes and menus
  r.add("GET", "/api/v1/dishes", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(f, list_filter(ctx, req));
      return ledger_list<operations::Dish>(
          req, "dishes", [&](PageRequest pg) { return ops.list_dishes(*who, *f, pg); }, fmt);
    });
  });
  r.add(
      "POST", "/api/v1/dishes",
      [&ctx, &ops, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, operations::parse_dish(*body));
          return one(ops.create_dish(*who, *in), 201, fmt);
        });
      },
      kJsonBodyLimit);
  r.add("GET", "/api/v1/dishes/{id}", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      return one(ops.get_dish(*who, *id), 200, fmt);
    });
  });
  r.add("GET", "/api/v1/menus", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(base, list_filter(ctx, req));
      operations::MenuFilter f;
      static_cast<ListFilter&>(f) = *base;
      if (auto d = req.query_param("day"); d && !d->empty()) {
        auto day = parse_date(*d);
        if (!day) return Response::error(Error::invalid("day", "invalid_date", "day must be a date YYYY-MM-DD"));
        f.day = *day;
      }
      return ledger_list<operations::Menu>(
          req, "menus", [&](PageRequest pg) { return ops.list_menus(*who, f, pg); }, fmt);
    });
  });
  r.add(
      "POST", "/api/v1/menus",
      [&ctx, &ops, fmt](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          MC_TRY(body, read_json(req));
          MC_TRY(in, operations::parse_menu(*body));
          return one(ops.create_menu(*who, *in), 201, fmt);
        });
      },
      kJsonBodyLimit);
  r.add("GET", "/api/v1/menus/{id}", [&ctx, &ops, fmt](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      return one(ops.get_menu(*who, *id), 200, fmt);
    });
  });

  // ---------------------------------------------------------------- sensor history
  operations::SensorHistory& sensors = *ctx.sensors;
  r.add("GET", "/api/v1/devices/{id}/history", [&ctx, &sensors](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      operations::HistoryQuery q;
      if (auto m = req.query_param("metric"); m && !m->empty()) {
        if (m->size() > 32) return Response::error(Error::invalid("metric", "invalid_metric_name", "metric too long"));
        q.metric = *m;
      }
      MC_TRY(from, query_time(ctx, req, "from"));
      MC_TRY(to, query_time(ctx, req, "to"));
      q.from = *from;
      q.to = *to;
      if (auto b = req.query_param("buckets"); b && !b->empty()) {
        if (b->size() > 5 || b->find_first_not_of("0123456789") != std::string::npos) {
          return Response::error(Error::invalid("buckets", "out_of_range", "buckets must be between 10 and 2000"));
        }
        q.buckets = std::stoi(*b);
      }
      MC_TRY(h, sensors.history(*who, *id, q));
      return Response::json(200, std::move(*h));
    });
  });
  r.add("GET", "/api/v1/devices/{id}/latest", [&ctx, &sensors](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(who, authenticate(ctx, req));
      MC_TRY(id, path_id(req));
      MC_TRY(l, sensors.latest(*who, *id));
      return Response::json(200, std::move(*l));
    });
  });
  r.add(
      "POST", "/api/v1/admin/sensor-compaction",
      [&ctx, &sensors](Request& req) {
        return guarded([&]() -> Response {
          MC_TRY(who, authenticate(ctx, req));
          if (!who->is_admin()) return Response::error(Error::forbidden("platform administrators only"));
          operations::CompactStats st = sensors.compact();
          return Response::json(200, json::object{{"ran", st.ran},
                                                  {"devices", st.devices},
                                                  {"readings_folded", st.readings_folded},
                                                  {"rollups_dropped", st.rollups_dropped}});
        });
      },
      1024);

  // ---------------------------------------------------------------- a client unit's menu today
  // the page is the disclosure page's (web/src/public), which reads this JSON
  r.add("GET", "/public/units/{token}/menu", [&ctx, &ops](Request& req) {
    Response out = guarded([&]() -> Response {
      if (auto page = public_page_html(ctx, req)) return *page;
      auto unit = ctx.registry->unit_by_disclosure_token(req.param("token"));
      if (!unit) return Response::error(Error::not_found("unit"));
      MC_TRY(m, ops.public_menu(unit->id));
      (*m)["unit"] = json::object{{"name", unit->name}};
      Response resp = Response::json(200, std::move(*m));
      resp.headers.emplace_back("Cache-Control", "public, max-age=60");
      return resp;
    });
    out.headers.emplace_back("Vary", "Accept");
    return out;
  });

  // ---------------------------------------------------------------- public traceability
  r.add("GET", "/public/trace/{code}", [&ops](Request& req) {
    return guarded([&]() -> Response {
      MC_TRY(t, ops.public_trace(req.param("code")));
      Response resp;
      if (wants_html(req)) {
        resp.content_type = "text/html; charset=utf-8";
        resp.body = trace_html(*t);
        resp.headers.emplace_back("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
      } else {
        resp = Response::json(200, *t);
      }
      resp.headers.emplace_back("Cache-Control", "public, max-age=60");
      return resp;
    });
  });
}

std::optional<std::string> operations_route_summary(const std::string& method, const std::string& pattern) {
  static const std::vector<std::tuple<const char*, const char*, const char*>> kDocs = {
      {"GET", "/api/v1/suppliers", "Suppliers of the units in scope, with qualification status (CSV with format=csv)"},
      {"POST", "/api/v1/suppliers", "Register a supplier with its qualifications (供应商)"},
      {"GET", "/api/v1/suppliers/{id}", "A supplier in scope"},
      {"GET", "/api/v1/acceptances", "Acceptance records (验收台账)"},
      {"POST", "/api/v1/acceptances",
       "Record the acceptance of a delivered batch; a failed check makes one return note"},
      {"GET", "/api/v1/acceptances/{id}", "An acceptance record in scope"},
      {"GET", "/api/v1/return-notes", "Return notes (退货单) made by failed acceptances"},
      {"POST", "/api/v1/stock/in", "Put an accepted batch into stock (入库)"},
      {"POST", "/api/v1/stock/out", "Take stock out first-expiring-first (出库); 409 insufficient_stock"},
      {"GET", "/api/v1/stock", "Batches in stock with remaining quantity and expiry; expiring_within_days filter"},
      {"GET", "/api/v1/stock/outs", "Stock-out records with the batches each took"},
      {"GET", "/api/v1/samples", "Sample retention records (留样台账)"},
      {"POST", "/api/v1/samples", "Record a kept sample (≥ 125 g, ≥ 48 h by default)"},
      {"POST", "/api/v1/samples/{id}/dispose", "Record a sample's disposal (not before its time)"},
      {"GET", "/api/v1/delivery-trips", "Delivery trips (配送) with their hand-over"},
      {"POST", "/api/v1/delivery-trips", "Dispatch a delivery trip"},
      {"GET", "/api/v1/delivery-trips/{id}", "A delivery trip: the electronic delivery note"},
      {"POST", "/api/v1/delivery-trips/{id}/handover", "Hand-over signed by the receiving unit (交付签收)"},
      {"GET", "/api/v1/meal-batches", "Meal batches with their trace codes"},
      {"POST", "/api/v1/meal-batches",
       "Record a meal batch from stock-outs, sample and delivery; returns its trace code"},
      {"GET", "/api/v1/meal-batches/{id}", "A meal batch in scope"},
      {"GET", "/api/v1/operations/warnings", "What the ledgers need today: expiry, qualifications, samples"},
      {"GET", "/api/v1/purchase-orders", "Purchase orders (采购) with their lines and price changes"},
      {"POST", "/api/v1/purchase-orders", "Request a purchase; each line records the item's previous price"},
      {"GET", "/api/v1/purchase-orders/{id}", "A purchase order in scope"},
      {"POST", "/api/v1/purchase-orders/{id}/decision", "Approve or reject a requested purchase; 409 otherwise"},
      {"POST", "/api/v1/purchase-orders/{id}/order", "Place an approved purchase order; 409 otherwise"},
      {"GET", "/api/v1/price-history", "Prices paid per item, with the change from the previous price; item filter"},
      {"GET", "/api/v1/stock-counts", "Stock counts (盘点) with book, counted and difference per item"},
      {"POST", "/api/v1/stock-counts", "Record a stock count against the book stock"},
      {"GET", "/api/v1/stock-counts/{id}", "A stock count in scope"},
      {"POST", "/api/v1/stock-counts/{id}/confirm",
       "Apply an open count by batch: batches set to the counted quantities; 409 stock_changed"},
      {"GET", "/api/v1/stock/movements", "Stock movements other than stock-outs (count_adjustment)"},
      {"PUT", "/api/v1/delivery-trips/{id}/route", "Set a trip's route corridor (geofence) and food temperature range"},
      {"POST", "/api/v1/delivery-trips/{id}/track",
       "Add vehicle positions and temperatures, judged off-route or out of range"},
      {"PUT", "/api/v1/delivery-trips/{id}/vehicle-device",
       "Bind the vehicle's temperature/GPS device to a trip: its readings (MQTT or HTTP) become the track"},
      {"GET", "/api/v1/delivery-trips/{id}/track",
       "A trip's route and track with its off-route and out-of-range points"},
      {"GET", "/api/v1/dishes", "Dishes with ingredients, nutrition per portion and allergens"},
      {"POST", "/api/v1/dishes", "Record a dish (nutrition per portion entered by the unit)"},
      {"GET", "/api/v1/dishes/{id}", "A dish in scope"},
      {"GET", "/api/v1/menus", "Daily menus per client unit with nutrition and allergens summed; day filter"},
      {"POST", "/api/v1/menus", "Record a day's meal of dishes for a client unit"},
      {"GET", "/api/v1/menus/{id}", "A menu in scope"},
      {"GET", "/api/v1/devices/{id}/history",
       "A device's readings of one metric downsampled to min/max/avg buckets, thresholds and alarms"},
      {"GET", "/api/v1/devices/{id}/latest", "A device's newest reading of each metric"},
      {"POST", "/api/v1/admin/sensor-compaction", "Fold old raw readings into hourly rollups now (admin)"},
      {"GET", "/public/units/{token}/menu",
       "A client unit's menus today with nutrition, allergens and ingredient origins (HTML, or JSON with Accept)"},
      {"GET", "/public/trace/{code}", "The public traceability page of a meal batch (HTML, or JSON with Accept)"},
  };
  for (const auto& [m, p, s] : kDocs) {
    if (method == m && pattern == p) return std::string(s);
  }
  for (const auto& info : operations::ledgers()) {
    std::string base = "/api/v1/" + info.ledger;
    std::string kinds;
    for (const auto& k : info.kinds) kinds += (kinds.empty() ? "" : ", ") + k;
    if (pattern == base && method == "GET") return "Ledger " + info.ledger + " (" + kinds + "); kind, abnormal filters";
    if (pattern == base && method == "POST") return "Add a record to the " + info.ledger + " ledger (" + kinds + ")";
    if (pattern == base + "/{id}") return "A record of the " + info.ledger + " ledger in scope";
  }
  if (pattern == "/api/v1/ledger-kinds") return std::string("The record kinds of every ledger with their fields");
  return std::nullopt;
}

#undef MC_TRY

}  // namespace mingchu::http
