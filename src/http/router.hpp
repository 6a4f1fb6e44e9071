// Routes "METHOD /path/{param}/..." to handlers, each with its own body size limit.
// Built once at start, then read concurrently by every connection (no locking needed).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "http/request.hpp"

namespace mingchu::http {

struct Route {
  std::string method;
  std::string pattern;  // e.g. "/api/v1/units/{id}"; a trailing "/*" matches any rest
  Handler handler;
  AsyncHandler async_handler;
  size_t max_body = 64 * 1024;
  std::vector<std::string> segments;
};

struct Match {
  const Route* route = nullptr;
  bool path_known = false;  // some route matches the path with another method (405)
};

class Router {
 public:
  void add(std::string method, std::string pattern, Handler h, size_t max_body = 64 * 1024);
  void add_async(std::string method, std::string pattern, AsyncHandler h, size_t max_body = 64 * 1024);
  // Fills req.params on success.
  Match match(Request& req) const;
  const std::vector<Route>& routes() const { return routes_; }
  // Replaces every handler by what wrap makes of it (e.g. to audit refused requests); called
  // once all routes are added, before serving.
  void wrap_handlers(const std::function<Handler(const Route&, Handler)>& wrap,
                     const std::function<AsyncHandler(const Route&, AsyncHandler)>& wrap_async);

 private:
  std::vector<Route> routes_;
};

}  // namespace mingchu::http
