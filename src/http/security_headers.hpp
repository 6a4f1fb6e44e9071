// The headers every HTML page of the web UI carries (GB/T 22239 level 2, issue 14 point 6):
//   Content-Security-Policy: scripts only from this origin (the hashed bundles under /assets/,
//     no inline script, no eval), styles from this origin plus inline style attributes (Element
//     Plus, Vant and ECharts set them), images also as data:/blob: (snapshots drawn in the
//     browser) and from the configured map tiles, nothing framed, no plugins, no <base>;
//   frame-ancestors 'none' (the public page: the configured embedders instead) and the older
//     X-Frame-Options: DENY where nothing may embed the page;
//   Referrer-Policy: no-referrer (also set on every response by the server).
// Pure functions of the options; thread safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "http/api.hpp"
#include "http/request.hpp"

namespace mingchu::http {

// The policy for a page; public_page chooses the configured frame ancestors.
std::string content_security_policy(const ApiOptions& opt, bool public_page);
// Adds the page headers to an HTML response.
void add_page_headers(Response& resp, const ApiOptions& opt, bool public_page);
// The CSP source of a tile URL template ("https://t{s}.tianditu.gov.cn/x?{z}" →
// "https://*.tianditu.gov.cn"); nullopt when it is not an http(s) URL.
std::optional<std::string> tile_source(std::string_view url_template);
// Nullopt when `ancestors` is a valid frame-ancestors source list (space separated 'self',
// scheme://host[:port] or https: sources), else why not.
std::optional<std::string> frame_ancestors_problem(std::string_view ancestors);

}  // namespace mingchu::http
