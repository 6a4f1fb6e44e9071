#include "notify/http_client.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

namespace mingchu::notify {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxUrl = 2048;
constexpr size_t kMaxKeptBody = 4096;
constexpr size_t kMaxResponse = 64 * 1024;  // we read the head and a little body, no more

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

// Writing to a socket the peer closed raises SIGPIPE, which would end the process. Block it
// for this thread while we work and swallow one that became pending.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) == 1) {
      timespec zero{0, 0};
      sigtimedwait(&pipe_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t old_{};
};

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 60'000));
}

// Waits until fd is readable (events = POLLIN) or writable (POLLOUT); false on timeout.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    int left = ms_left(deadline);
    if (left == 0) return false;
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, left);
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

Result<Fd> connect_tcp(const HttpUrl& u, Clock::time_point deadline, const net::AddressPolicy* policy) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port = std::to_string(u.port);
  int gai = ::getaddrinfo(u.host.c_str(), port.c_str(), &hints, &res);
  if (gai != 0) return unavailable("cannot resolve " + u.host + ": " + gai_strerror(gai));
  std::string last = "no address";
  Fd out;
  bool ok = false;
  for (addrinfo* ai = res; ai && !ok; ai = ai->ai_next) {
    // the address actually connected to is checked, not the name: a name that resolves (or
    // re-resolves) into the platform's own networks is refused like the address itself
    if (auto a = net::from_sockaddr(ai->ai_addr); policy && (!a || !policy->allowed(*a))) {
      last = "address " + (a ? a->to_string() : std::string("?")) + " is not allowed (notify.webhook_allow_networks)";
      continue;
    }
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (fd.get() < 0) {
      last = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = ::connect(fd.get(), ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno != EINPROGRESS) {
      last = std::strerror(errno);
      continue;
    }
    if (rc != 0) {
      if (!wait_fd(fd.get(), POLLOUT, deadline)) {
        last = "connect timed out";
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        last = std::strerror(err);
        continue;
      }
    }
    out = std::move(fd);
    ok = true;
  }
  ::freeaddrinfo(res);
  if (!ok) return unavailable("connect " + u.host + ":" + port + ": " + last);
  return out;
}

std::string ssl_error_text() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "TLS failure";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// One TLS context per verification mode, made once and shared (SSL_CTX is thread safe once
// configured).
SSL_CTX* tls_context(bool verify) {
  static std::once_flag once;
  static SSL_CTX* ctx_verify = nullptr;
  static SSL_CTX* ctx_noverify = nullptr;
  std::call_once(once, [] {
    for (SSL_CTX** slot : {&ctx_verify, &ctx_noverify}) {
      SSL_CTX* c = SSL_CTX_new(TLS_client_method());
      if (!c) continue;
      SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
      SSL_CTX_set_default_verify_paths(c);
      SSL_CTX_set_verify(c, slot == &ctx_verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
      SSL_CTX_set_mode(c, SSL_MODE_AUTO_RETRY);
      *slot = c;
    }
  });
  return verify ? ctx_verify : ctx_noverify;
}

// A connection, plain or TLS, with deadline-bounded send and receive.
class Stream {
 public:
  Stream(Fd fd, Clock::time_point deadline) : fd_(std::move(fd)), deadline_(deadline) {}
  ~Stream() {
    if (ssl_) {
      SSL_shutdown(ssl_);  // best effort, non-blocking socket: never waits
      SSL_free(ssl_);
    }
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  Status start_tls(const std::string& host, bool verify) {
    SSL_CTX* ctx = tls_context(verify);
    if (!ctx) return unavailable("TLS: " + ssl_error_text());
    ssl_ = SSL_new(ctx);
    if (!ssl_) return unavailable("TLS: " + ssl_error_text());
    SSL_set_fd(ssl_, fd_.get());
    bool literal = host.find(':') != std::string::npos || host.find_first_not_of("0123456789.") == std::string::npos;
    if (!literal) SSL_set_tlsext_host_name(ssl_, host.c_str());
    if (verify) {
      if (literal) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str());
      } else {
        SSL_set1_host(ssl_, host.c_str());
      }
    }
    for (;;) {
      ERR_clear_error();
      int rc = SSL_connect(ssl_);
      if (rc == 1) return ok_status();
      int err = SSL_get_error(ssl_, rc);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        if (!wait_fd(fd_.get(), err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline_)) {
          return unavailable("TLS handshake timed out");
        }
        continue;
      }
      long vr = SSL_get_verify_result(ssl_);
      if (vr != X509_V_OK) return unavailable(std::string("TLS: certificate: ") + X509_verify_cert_error_string(vr));
      return unavailable("TLS handshake: " + ssl_error_text());
    }
  }

  Status send_all(std::string_view data) {
    size_t off = 0;
    while (off < data.size()) {
      if (ssl_) {
        ERR_clear_error();
        int n = SSL_write(ssl_, data.data() + off, static_cast<int>(std::min<size_t>(data.size() - off, 1 << 20)));
        if (n > 0) {
          off += static_cast<size_t>(n);
          continue;
        }
        int err = SSL_get_error(ssl_, n);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
          if (!wait_fd(fd_.get(), err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline_)) {
            return unavailable("timed out sending the request");
          }
          continue;
        }
        return unavailable("TLS write: " + ssl_error_text());
      }
      ssize_t n = ::send(fd_.get(), data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        if (!wait_fd(fd_.get(), POLLOUT, deadline_)) return unavailable("timed out sending the request");
        continue;
      }
      return unavailable(std::string("send: ") + std::strerror(errno));
    }
    return ok_status();
  }

  // Appends what arrives to out; returns 0 at EOF, >0 bytes read, or an error.
  Result<size_t> receive(std::string& out) {
    char buf[8192];
    for (;;) {
      if (ssl_) {
        ERR_clear_error();
        int n = SSL_read(ssl_, buf, sizeof buf);
        if (n > 0) {
          out.append(buf, static_cast<size_t>(n));
          return static_cast<size_t>(n);
        }
        int err = SSL_get_error(ssl_, n);
        if (err == SSL_ERROR_ZERO_RETURN) return size_t{0};
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
          if (!wait_fd(fd_.get(), err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline_)) {
            return unavailable("timed out waiting for the response");
          }
          continue;
        }
        // many servers close without close_notify: treat a clean EOF as the end
        if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return size_t{0};
        return unavailable("TLS read: " + ssl_error_text());
      }
      ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
        return static_cast<size_t>(n);
      }
      if (n == 0) return size_t{0};
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        if (!wait_fd(fd_.get(), POLLIN, deadline_)) return unavailable("timed out waiting for the response");
        continue;
      }
      return unavailable(std::string("recv: ") + std::strerror(errno));
    }
  }

 private:
  Fd fd_;
  Clock::time_point deadline_;
  SSL* ssl_ = nullptr;
};

bool header_safe(std::string_view s) {
  for (unsigned char c : s) {
    if (c == '\r' || c == '\n' || c == 0) return false;
  }
  return true;
}

// Parses "HTTP/1.x NNN ..." at the start of a response head.
int status_of(std::string_view head) {
  if (head.size() < 12 || head.substr(0, 7) != "HTTP/1.") return 0;
  std::string_view code = head.substr(9, 3);
  int s = 0;
  for (char c : code) {
    if (c < '0' || c > '9') return 0;
    s = s * 10 + (c - '0');
  }
  return s;
}

// Content-Length of a response head, or -1 when absent or unreadable.
long long content_length(std::string_view head) {
  size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string_view::npos) {
    pos += 2;
    if (ieq_prefix(head.substr(pos), "content-length:")) {
      size_t v = pos + 15;
      while (v < head.size() && (head[v] == ' ' || head[v] == '\t')) ++v;
      long long n = 0;
      bool any = false;
      while (v < head.size() && head[v] >= '0' && head[v] <= '9' && n < (1LL << 40)) {
        n = n * 10 + (head[v++] - '0');
        any = true;
      }
      return any ? n : -1;
    }
  }
  return -1;
}

class SocketHttpClient final : public HttpClient {
 public:
  Result<HttpReply> post(const HttpPost& req) override {
    auto url = parse_http_url(req.url);
    if (!url) return url.error();
    if (!header_safe(req.content_type)) return Error::invalid("content_type", "invalid_header", "bad content type");
    SigpipeGuard guard;
    auto deadline = Clock::now() + req.timeout;
    auto fd = connect_tcp(*url, deadline, req.policy);
    if (!fd) return fd.error();
    Stream s(std::move(*fd), deadline);
    if (url->tls) {
      if (auto st = s.start_tls(url->host, req.verify_tls); !st) return st.error();
    }
    std::string host = url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host;
    if ((url->tls && url->port != 443) || (!url->tls && url->port != 80)) host += ":" + std::to_string(url->port);
    std::string head;
    head.reserve(512);
    head += "POST " + url->target + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: mingchu-push/1\r\n";
    head += "Content-Type: " + req.content_type + "\r\nContent-Length: " + std::to_string(req.body.size()) +
            "\r\nConnection: close\r\n";
    for (const auto& [k, v] : req.headers) {
      if (!header_safe(k) || !header_safe(v) || k.empty()) {
        return Error::invalid("headers", "invalid_header", "a header contains a line break");
      }
      head += k + ": " + v + "\r\n";
    }
    head += "\r\n";
    if (auto st = s.send_all(head); !st) return st.error();
    if (auto st = s.send_all(req.body); !st) return st.error();

    std::string in;
    size_t head_end = std::string::npos;
    long long want = -1;
    for (;;) {
      auto n = s.receive(in);
      if (!n) {
        // the status line is what matters; a server that answered and then stalled counts
        if (head_end != std::string::npos) break;
        return n.error();
      }
      if (head_end == std::string::npos) {
        head_end = in.find("\r\n\r\n");
        if (head_end != std::string::npos) {
          want = content_length(std::string_view(in).substr(0, head_end + 2));
          // 1xx interim answers (100 Continue) precede the real one
          int st = status_of(in);
          if (st >= 100 && st < 200) {
            in.erase(0, head_end + 4);
            head_end = std::string::npos;
            continue;
          }
        }
      }
      if (*n == 0) break;
      if (head_end != std::string::npos) {
        size_t body_len = in.size() - head_end - 4;
        if (want >= 0 && static_cast<long long>(body_len) >= want) break;
        if (body_len >= kMaxKeptBody) break;
      }
      if (in.size() > kMaxResponse) break;
    }
    if (head_end == std::string::npos) {
      return unavailable(in.empty() ? "the server closed the connection without answering" : "malformed HTTP response");
    }
    HttpReply r;
    r.status = status_of(in);
    if (r.status == 0) return unavailable("malformed HTTP status line");
    r.body = in.substr(head_end + 4, kMaxKeptBody);
    return r;
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

std::unique_ptr<HttpClient> make_http_client() { return std::make_unique<SocketHttpClient>(); }

}  // namespace mingchu::notify
