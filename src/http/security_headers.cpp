#include "http/security_headers.hpp"

#include <cctype>

namespace mingchu::http {

std::optional<std::string> tile_source(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  std::string_view scheme = url.substr(0, scheme_end);
  if (scheme != "https" && scheme != "http") return std::nullopt;
  std::string_view rest = url.substr(scheme_end + 3);
  std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
  if (host.empty()) return std::nullopt;
  // a templated label ({s}, {a-c}) becomes a wildcard label
  std::string out(scheme);
  out += "://";
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    std::string_view label = host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.find('{') != std::string_view::npos) {
      if (start != 0) return std::nullopt;  // CSP wildcards only lead
      out += "*";
    } else {
      for (char c : label) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == ':')) return std::nullopt;
      }
      out += label;
    }
    if (dot == std::string_view::npos) break;
    out += '.';
    start = dot + 1;
  }
  return out;
}

std::optional<std::string> frame_ancestors_problem(std::string_view list) {
  size_t i = 0;
  bool any = false;
  while (i < list.size()) {
    while (i < list.size() && list[i] == ' ') ++i;
    if (i >= list.size()) break;
    size_t j = list.find(' ', i);
    std::string_view src = list.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i);
    i = j == std::string_view::npos ? list.size() : j;
    any = true;
    if (src == "'self'" || src == "https:") continue;
    size_t sep = src.find("://");
    if (sep == std::string_view::npos || (src.substr(0, sep) != "https" && src.substr(0, sep) != "http")) {
      return "each source is 'self', https: or an http(s)://host[:port] origin: " + std::string(src);
    }
    for (char c : src.substr(sep + 3)) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == ':' || c == '*')) {
        return "not a host[:port]: " + std::string(src);
      }
    }
  }
  if (!any) return std::string("empty source list");
  return std::nullopt;
}

std::string content_security_policy(const ApiOptions& opt, bool public_page) {
  std::string img = "img-src 'self' data: blob:";
  if (auto tiles = tile_source(opt.map_tile_url)) img += " " + *tiles;
  std::string ancestors = public_page && !opt.public_frame_ancestors.empty() ? opt.public_frame_ancestors : "'none'";
  return "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " + img +
         "; font-src 'self' data:; connect-src 'self'; media-src 'self' blob:; worker-src 'self' blob:; "
         "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors " +
         ancestors;
}

void add_page_headers(Response& resp, const ApiOptions& opt, bool public_page) {
  resp.headers.emplace_back("Content-Security-Policy", content_security_policy(opt, public_page));
  if (!public_page || opt.public_frame_ancestors.empty()) resp.headers.emplace_back("X-Frame-Options", "DENY");
}

}  // namespace mingchu::http
