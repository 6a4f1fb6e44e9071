#include "notify/http_client.hpp"

#include <map>
#include <mutex>

#include <curl/curl.h>
#include <sys/socket.h>

namespace mingchu::notify {
namespace {

constexpr size_t kMaxUrl = 2048;
constexpr size_t kMaxKeptBody = 4096;

bool ieq_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char a = s[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (a != prefix[i]) return false;
  }
  return true;
}

Error unavailable(std::string msg) { return Error::unavailable(std::move(msg)); }

bool header_safe(std::string_view s) {
  for (unsigned char c : s) {
    if (c == '\r' || c == '\n' || c == 0) return false;
  }
  return true;
}

// What one exchange's callbacks share with post().
struct Exchange {
  const net::AddressPolicy* policy = nullptr;
  std::string refused;  // why an address was not connected to
  std::string body;     // the first kMaxKeptBody bytes of the answer
  bool enough = false;  // stopped reading on purpose (the status and kMaxKeptBody are all we keep)
};

// Every socket libcurl opens goes through here: the address it is about to connect to (after
// name resolution, for each address tried) is checked against the policy, so a name that
// resolves — or re-resolves — into the platform's own networks is refused like the address.
curl_socket_t open_socket(void* user, curlsocktype purpose, curl_sockaddr* addr) {
  auto* ex = static_cast<Exchange*>(user);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  if (ex->policy) {
    auto a = net::from_sockaddr(reinterpret_cast<const sockaddr*>(&addr->addr));
    if (!a || !ex->policy->allowed(*a)) {
      ex->refused =
          "address " + (a ? a->to_string() : std::string("?")) + " is not allowed (notify.webhook_allow_networks)";
      return CURL_SOCKET_BAD;
    }
  }
  return ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

size_t keep_body(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  size_t len = size * n;
  size_t room = kMaxKeptBody - ex->body.size();
  ex->body.append(data, std::min(room, len));
  if (ex->body.size() >= kMaxKeptBody) {
    ex->enough = true;
    return 0;  // ends the transfer (CURLE_WRITE_ERROR): the rest is not wanted
  }
  return len;
}

std::string policy_key(const net::AddressPolicy* p) {
  if (!p) return "-";
  std::string k = "+";
  for (const auto& n : p->allow) k += n.base.to_string() + "/" + std::to_string(n.prefix) + ",";
  return k;
}

// libcurl (with its threaded resolver, so name resolution is inside the deadline; TLS through
// OpenSSL with peer and host verification unless the request turns it off). Each thread keeps
// one easy handle per address policy: a handle keeps its connections open for the next
// request to the same host, and a connection is only reused under the policy that opened it.
class CurlHttpClient final : public HttpClient {
 public:
  CurlHttpClient() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  Result<HttpReply> post(const HttpPost& req) override {
    auto url = parse_http_url(req.url);
    if (!url) return url.error();
    if (!header_safe(req.content_type)) return Error::invalid("content_type", "invalid_header", "bad content type");
    for (const auto& [k, v] : req.headers) {
      if (!header_safe(k) || !header_safe(v) || k.empty()) {
        return Error::invalid("headers", "invalid_header", "a header contains a line break");
      }
    }
    CURL* h = handle(req.policy);
    if (!h) return unavailable("cannot start an HTTP client (libcurl)");
    curl_easy_reset(h);

    std::string host = url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host;
    std::string canonical = (url->tls ? "https://" : "http://") + host + ":" + std::to_string(url->port) + url->target;
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr, &curl_slist_free_all);
    auto add = [&](const std::string& line) { headers.reset(curl_slist_append(headers.release(), line.c_str())); };
    add("Content-Type: " + req.content_type);
    add("Expect:");  // no 100-continue round trip
    for (const auto& [k, v] : req.headers) add(k + ": " + v);

    Exchange ex;
    ex.policy = req.policy;
    curl_easy_setopt(h, CURLOPT_URL, canonical.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");  // never through a proxy from the environment
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mingchu-push/1");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    curl_easy_setopt(h, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, req.verify_tls ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, req.verify_tls ? 2L : 0L);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, &open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &ex);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &keep_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &ex);
    char err[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);

    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    // the status line is what matters: an answer cut short (on purpose, or by a server that
    // answered and then stalled) still counts
    if (rc != CURLE_OK && !(status > 0 && (ex.enough || rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_PARTIAL_FILE ||
                                           rc == CURLE_RECV_ERROR))) {
      if (!ex.refused.empty()) return unavailable("connect " + url->host + ": " + ex.refused);
      std::string what = err[0] ? err : curl_easy_strerror(rc);
      if (rc == CURLE_OPERATION_TIMEDOUT) what = "timed out: " + what;
      return unavailable(what);
    }
    HttpReply r;
    r.status = static_cast<int>(status);
    r.body = std::move(ex.body);
    return r;
  }

 private:
  struct Handles {
    std::map<std::string, CURL*> by_policy;
    ~Handles() {
      for (auto& [k, h] : by_policy) curl_easy_cleanup(h);
    }
  };

  static CURL* handle(const net::AddressPolicy* policy) {
    thread_local Handles handles;
    std::string key = policy_key(policy);
    auto it = handles.by_policy.find(key);
    if (it != handles.by_policy.end()) return it->second;
    if (handles.by_policy.size() > 16) {  // policies come from the configuration: a few at most
      for (auto& [k, h] : handles.by_policy) curl_easy_cleanup(h);
      handles.by_policy.clear();
    }
    CURL* h = curl_easy_init();
    if (h) handles.by_policy.emplace(key, h);
    return h;
  }
};

}  // namespace

Result<HttpUrl> parse_http_url(std::string_view url) {
  auto bad = [](std::string msg) { return Error::invalid("url", "invalid_url", std::move(msg)); };
  if (url.empty() || url.size() > kMaxUrl) return bad("url must be 1 to 2048 characters");
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7f) return bad("url must not contain spaces, control or non-ASCII characters");
  }
  HttpUrl u;
  std::string_view rest;
  if (ieq_prefix(url, "https://")) {
    u.tls = true;
    u.port = 443;
    rest = url.substr(8);
  } else if (ieq_prefix(url, "http://")) {
    rest = url.substr(7);
  } else {
    return bad("url must start with http:// or https://");
  }
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view tail = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (auto hash = tail.find('#'); hash != std::string_view::npos) tail = tail.substr(0, hash);
  if (authority.find('@') != std::string_view::npos) return bad("url must not contain user information");
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address in url");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("malformed url authority");
      port = after.substr(1);
    }
    if (host.empty() || host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) {
      return bad("malformed IPv6 address in url");
    }
  } else {
    size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
    if (host.empty() || host.size() > 253 ||
        host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
            std::string_view::npos) {
      return bad("url has no valid host");
    }
  }
  if (authority.find(':') != std::string_view::npos && authority.back() == ':') return bad("url has an empty port");
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
      return bad("url port must be a number");
    int p = std::stoi(std::string(port));
    if (p < 1 || p > 65535) return bad("url port must be 1 to 65535");
    u.port = static_cast<unsigned short>(p);
  }
  u.host = std::string(host);
  if (tail.empty()) {
    u.target = "/";
  } else if (tail.front() == '?') {
    u.target = "/" + std::string(tail);
  } else {
    u.target = std::string(tail);
  }
  return u;
}

std::unique_ptr<HttpClient> make_http_client() { return std::make_unique<CurlHttpClient>(); }

}  // namespace mingchu::notify
