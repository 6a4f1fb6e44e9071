#include "http/router.hpp"

namespace mingchu::http {
namespace {

std::vector<std::string> split_path(std::string_view p) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < p.size()) {
    while (i < p.size() && p[i] == '/') ++i;
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    if (j > i) out.emplace_back(p.substr(i, j - i));
    i = j;
  }
  return out;
}

bool match_route(const Route& r, const std::vector<std::string>& segs,
                 std::map<std::string, std::string, std::less<>>* params) {
  size_t n = r.segments.size();
  bool wildcard = n > 0 && r.segments.back() == "*";
  if (wildcard ? segs.size() < n - 1 : segs.size() != n) return false;
  for (size_t i = 0; i < n; ++i) {
    const std::string& s = r.segments[i];
    if (s == "*") {
      if (params) {
        std::string rest;
        for (size_t k = i; k < segs.size(); ++k) rest += (k > i ? "/" : "") + segs[k];
        (*params)["*"] = rest;
      }
      return true;
    }
    if (s.size() > 2 && s.front() == '{' && s.back() == '}') {
      if (params) (*params)[s.substr(1, s.size() - 2)] = segs[i];
    } else if (size_t close = s.find('}'); s.front() == '{' && close != std::string::npos) {
      // "{name}.pdf": a parameter with a literal suffix
      std::string_view suffix = std::string_view(s).substr(close + 1);
      const std::string& seg = segs[i];
      if (seg.size() <= suffix.size() || std::string_view(seg).substr(seg.size() - suffix.size()) != suffix)
        return false;
      if (params) (*params)[s.substr(1, close - 1)] = seg.substr(0, seg.size() - suffix.size());
    } else if (s != segs[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler h, size_t max_body) {
  Route r{std::move(method), std::move(pattern), std::move(h), nullptr, max_body, {}};
  r.segments = split_path(r.pattern);
  routes_.push_back(std::move(r));
}

void Router::add_async(std::string method, std::string pattern, AsyncHandler h, size_t max_body) {
  Route r{std::move(method), std::move(pattern), nullptr, std::move(h), max_body, {}};
  r.segments = split_path(r.pattern);
  routes_.push_back(std::move(r));
}

Match Router::match(Request& req) const {
  Match m;
  auto segs = split_path(req.path);
  // Exact segments win over parameters: try routes in registration order, but prefer one
  // whose literal segments match more (e.g. /units/stats before /units/{id}).
  const Route* best = nullptr;
  int best_literals = -1;
  for (const Route& r : routes_) {
    if (!match_route(r, segs, nullptr)) continue;
    m.path_known = true;
    if (r.method != req.method && !(req.method == "HEAD" && r.method == "GET")) continue;
    int literals = 0;
    for (const auto& s : r.segments) literals += (s.front() != '{' && s != "*") ? 1 : 0;
    if (literals > best_literals) {
      best = &r;
      best_literals = literals;
    }
  }
  if (best) {
    match_route(*best, segs, &req.params);
    m.route = best;
  }
  return m;
}

void Router::wrap_handlers(const std::function<Handler(const Route&, Handler)>& wrap,
                           const std::function<AsyncHandler(const Route&, AsyncHandler)>& wrap_async) {
  for (auto& r : routes_) {
    if (r.handler) r.handler = wrap(r, std::move(r.handler));
    if (r.async_handler) r.async_handler = wrap_async(r, std::move(r.async_handler));
  }
}

}  // namespace mingchu::http
