// The HTTP client for outbound pushes (webhooks, the SMS/voice gateway, the upstream
// exchange): POST, read the status and the first 4 KiB of the answer. libcurl underneath:
// connections kept open for the next push to the same host, name resolution, connect, TLS
// (OpenSSL, certificate and host name verified unless a request turns it off), send and
// receive all bounded by the request's one deadline. An AddressPolicy is checked on every
// address actually connected to, after name resolution.
//
// Thread safety: an HttpClient may be used from many threads at once (each thread keeps its
// own libcurl handles). Failure: transport problems (refused, unreachable, timeout, TLS,
// an address the policy refuses) are returned as kUnavailable with a short message for the
// delivery log; a malformed URL as kInvalid. Any HTTP status is a success of the transport
// and is returned in HttpReply.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/net.hpp"
#include "core/result.hpp"

namespace mingchu::notify {

struct HttpUrl {
  bool tls = false;
  std::string host;  // without brackets for IPv6 literals
  unsigned short port = 80;
  std::string target = "/";  // path and query
};

// Accepts http:// and https:// URLs with a host (name, IPv4, or [IPv6]), an optional port, and
// an optional path and query; refuses user info, fragments' control characters, spaces and any
// other scheme. At most 2048 characters.
Result<HttpUrl> parse_http_url(std::string_view url);

struct HttpPost {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // Host, Content-Length and Connection are added
  std::string content_type = "application/json";
  std::string body;
  std::chrono::milliseconds timeout{5000};  // the whole exchange
  bool verify_tls = true;
  // When set, only addresses it allows are connected to (checked after name resolution).
  const net::AddressPolicy* policy = nullptr;
};

struct HttpReply {
  int status = 0;
  std::string body;  // at most the first 4 KiB
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual Result<HttpReply> post(const HttpPost& req) = 0;
};

std::unique_ptr<HttpClient> make_http_client();

}  // namespace mingchu::notify
