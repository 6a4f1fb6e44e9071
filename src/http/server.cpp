#include "http/server.hpp"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <thread>

#include "core/ids.hpp"
#include "core/log.hpp"
#include "http/handler_util.hpp"
#include "storage/database.hpp"

namespace mingchu::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Server::Impl {
  ServerOptions opt;
  const Router& router;
  Metrics& metrics;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  asio::signal_set signals{io, SIGINT, SIGTERM};
  std::atomic<bool> stopping{false};
  std::atomic<int> active{0};      // connections
  std::atomic<int> in_flight{0};   // requests being handled
  std::mutex post_mu;
  bool closed = false;  // run() has returned: post() runs its task at once
  Gauge* connections_gauge = nullptr;
  std::mutex conns_mu;
  std::vector<std::weak_ptr<beast::tcp_stream>> conns;

  Impl(ServerOptions o, const Router& r, Metrics& m) : opt(std::move(o)), router(r), metrics(m) {
    connections_gauge = &metrics.gauge("mingchu_http_connections", "", "Open HTTP connections");
  }

  awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, sock] = co_await acceptor.async_accept(kTuple);
      if (ec) {
        if (stopping || ec == asio::error::operation_aborted) co_return;
        log::warn("accept failed", {{"error", ec.message()}});
        continue;
      }
      asio::co_spawn(asio::make_strand(io), session(std::move(sock)), asio::detached);
    }
  }

  // The client behind trusted proxies: X-Forwarded-For read from the right (each proxy
  // appends the address it was reached from), skipping addresses that are trusted proxies
  // themselves; the first other address is the client. From an untrusted peer the header is
  // not believed, and reading stops at a malformed entry.
  std::string client_address(const Request& r, const std::string& peer) const {
    if (opt.trusted_proxies.empty()) return peer;
    auto p = net::parse_ip(peer);
    if (!p || !net::any_contains(opt.trusted_proxies, *p)) return peer;
    std::vector<std::string_view> hops;
    for (const auto& [name, value] : r.headers) {
      if (name != "x-forwarded-for") continue;
      std::string_view v = value;
      while (!v.empty()) {
        size_t comma = v.find(',');
        std::string_view hop = v.substr(0, comma);
        while (!hop.empty() && (hop.front() == ' ' || hop.front() == '\t')) hop.remove_prefix(1);
        while (!hop.empty() && (hop.back() == ' ' || hop.back() == '\t')) hop.remove_suffix(1);
        hops.push_back(hop);
        if (comma == std::string_view::npos) break;
        v.remove_prefix(comma + 1);
      }
    }
    std::string client = p->to_string();
    for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
      auto a = net::parse_ip(*it);
      if (!a) break;
      client = a->to_string();
      if (!net::any_contains(opt.trusted_proxies, *a)) break;
    }
    return client;
  }

  // The method as a metrics label: the methods of HTTP/1.1 and PATCH; anything a client
  // invents is "other", so clients cannot grow the label set.
  static std::string_view method_label(std::string_view m) {
    for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}) {
      if (m == known) return known;
    }
    return "other";
  }

  static std::string peer_of(const tcp::socket& s) {
    boost::system::error_code ec;
    auto ep = s.remote_endpoint(ec);
    return ec ? std::string("?") : ep.address().to_string();
  }

  Request to_request(const bhttp::request_parser<bhttp::string_body>::value_type& m, const std::string& peer) {
    Request r;
    r.method = std::string(m.method_string());
    r.target = std::string(m.target());
    std::string_view t = r.target;
    size_t q = t.find('?');
    r.path = percent_decode(t.substr(0, q), false);
    if (q != std::string_view::npos) r.query = parse_query(t.substr(q + 1));
    for (const auto& f : m) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    r.peer = peer;
    r.remote = client_address(r, peer);
    auto rid = r.header("x-request-id");
    r.request_id = rid && plausible_id(*rid) ? *rid : quick_random_hex(8);
    return r;
  }

  // Runs the route's handler; async handlers are awaited without blocking the thread.
  awaitable<Response> call(const Route& route, Request& req) {
    if (route.handler) co_return route.handler(req);
    auto ex = co_await asio::this_coro::executor;
    co_return co_await asio::async_initiate<decltype(use_awaitable), void(Response)>(
        [&](auto handler) {
          // shared: the completion may be invoked from another thread after this frame ends
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          route.async_handler(req, [h, ex](Response resp) {
            asio::post(ex, [h, resp = std::move(resp)]() mutable { (*h)(std::move(resp)); });
          });
        },
        use_awaitable);
  }

  // True when a header block has an obs-fold (a line continued by leading space or tab).
  // Beast joins such lines; RFC 9112 §5.2 says a server rejects them (smuggling, confusion
  // between proxies), so the raw bytes are checked before Beast parses them.
  static bool has_obs_fold(std::string_view header) {
    for (size_t i = header.find('\n'); i != std::string_view::npos && i + 1 < header.size();
         i = header.find('\n', i + 1)) {
      if (header[i + 1] == ' ' || header[i + 1] == '\t') return true;
    }
    return false;
  }

  // Reads until buf holds a whole header block (or header_limit bytes, or the peer stops;
  // the parser then reports what is wrong) and answers whether it has an obs-fold.
  awaitable<bool> read_header_block(beast::tcp_stream& stream, beast::flat_buffer& buf) {
    for (;;) {
      std::string_view have(static_cast<const char*>(buf.data().data()), buf.size());
      if (size_t end = have.find("\r\n\r\n"); end != std::string_view::npos) {
        co_return has_obs_fold(have.substr(0, end + 2));
      }
      if (buf.size() >= opt.header_limit) co_return false;
      auto [ec, n] = co_await stream.async_read_some(buf.prepare(4096), kTuple);
      if (ec) co_return false;
      buf.commit(n);
    }
  }

  Response dispatch_error(int status, const char* code, const std::string& msg) {
    return Response::error(status, code, msg);
  }

  awaitable<void> session(tcp::socket sock) {
    auto stream = std::make_shared<beast::tcp_stream>(std::move(sock));
    std::string peer = peer_of(stream->socket());
    {
      std::lock_guard g(conns_mu);
      conns.push_back(stream);
    }
    ++active;
    connections_gauge->add(1);
    beast::flat_buffer buf;
    for (;;) {
      if (stopping) break;
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(opt.header_limit));
      // no limit while reading the header: the route's own limit is applied once it is known
      parser.body_limit(boost::none);
      stream->expires_after(opt.idle_timeout);
      if (co_await read_header_block(*stream, buf)) {
        Response bad = dispatch_error(400, "bad_request", "obs-folded header lines are not accepted (RFC 9112 5.2)");
        co_await write(*stream, bad, false, "", nullptr);
        break;
      }
      auto [ec, n] = co_await bhttp::async_read_header(*stream, buf, parser, kTuple);
      if (ec) {
        if (ec != bhttp::error::end_of_stream && ec != asio::error::operation_aborted &&
            ec != beast::error::timeout && ec != asio::error::eof && ec != asio::error::connection_reset) {
          Response bad = dispatch_error(ec == bhttp::error::header_limit ? 431 : 400, "bad_request",
                                        "malformed HTTP request: " + ec.message());
          co_await write(*stream, bad, false, "", nullptr);
        }
        break;
      }
      auto t0 = std::chrono::steady_clock::now();
      ++in_flight;
      Request req = to_request(parser.get(), peer);
      Match m = router.match(req);
      bool keep_alive = parser.get().keep_alive();
      Response resp;
      std::string route_label = m.route ? m.route->pattern : "unmatched";
      bool skip_body = false;
      if (!m.route) {
        resp = m.path_known ? dispatch_error(405, "method_not_allowed", "method " + req.method + " not allowed here")
                            : dispatch_error(404, "not_found", "no such endpoint: " + req.path);
      } else if (parser.content_length() && *parser.content_length() > m.route->max_body) {
        resp = dispatch_error(413, "payload_too_large",
                              "request body exceeds " + std::to_string(m.route->max_body) + " bytes for this endpoint");
        keep_alive = false;
        skip_body = true;
      }
      if (!skip_body) {
        parser.body_limit(m.route ? m.route->max_body : 64 * 1024);
        stream->expires_after(std::chrono::seconds(60));
        auto [ec2, n2] = co_await bhttp::async_read(*stream, buf, parser, kTuple);
        if (ec2) {
          if (ec2 == bhttp::error::body_limit) {
            resp = dispatch_error(413, "payload_too_large", "request body is too large for this endpoint");
          } else {
            --in_flight;
            break;
          }
          keep_alive = false;
        } else if (m.route) {
          req.body = std::move(parser.get().body());
          try {
            resp = co_await call(*m.route, req);
            if (resp.finish) {
              auto finish = std::move(resp.finish);
              resp.finish = nullptr;
              resp = finish();
            }
          } catch (const storage::DbError& e) {
            if (auto answer = db_error_answer(e)) {
              resp = Response::error(*answer);
            } else {
              log::error("database error", {{"request_id", req.request_id}, {"route", route_label}, {"error", e.what()}});
              metrics.counter("mingchu_http_handler_errors_total", "", "Handlers that threw").inc();
              resp = dispatch_error(500, "internal_error", "internal error; request id " + req.request_id);
            }
          } catch (const std::exception& e) {
            log::error("handler failed", {{"request_id", req.request_id}, {"route", route_label}, {"error", e.what()}});
            metrics.counter("mingchu_http_handler_errors_total", "", "Handlers that threw").inc();
            resp = dispatch_error(500, "internal_error", "internal error; request id " + req.request_id);
          }
        }
      }
      if (stopping) keep_alive = false;
      bool head = req.method == "HEAD";
      if (resp.source && (head || !co_await write_source(*stream, resp, keep_alive, req.request_id))) {
        resp.source->cancel();
        keep_alive = false;
        if (head) co_await write(*stream, resp, false, req.request_id, nullptr);
      } else if (!resp.source) {
        co_await write(*stream, resp, keep_alive, req.request_id, head ? nullptr : resp.stream.get());
      }
      --in_flight;
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::string status = std::to_string(resp.status);
      std::string labels = "route=\"" + route_label + "\",method=\"" + std::string(method_label(req.method)) +
                           "\",status=\"" + status + "\"";
      metrics.counter("mingchu_http_requests_total", labels, "HTTP requests by route, method and status").inc();
      metrics.histogram("mingchu_http_request_duration_seconds", "route=\"" + route_label + "\"",
                        "HTTP request latency by route")
          .observe(secs);
      if (log::enabled(log::Level::kDebug)) {
        log::debug("request", {{"request_id", req.request_id}, {"method", req.method}, {"path", req.path},
                               {"status", status}, {"ms", std::to_string(secs * 1000)}, {"peer", peer}});
      }
      if (resp.status >= 500) {
        log::warn("request failed", {{"request_id", req.request_id}, {"method", req.method}, {"path", req.path},
                                     {"status", status}});
      }
      if (!keep_alive || resp.stream) break;
    }
    beast::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
    --active;
    connections_gauge->add(-1);
  }

  awaitable<void> write(beast::tcp_stream& stream, Response& resp, bool keep_alive, const std::string& request_id,
                        EventStream* events) {
    stream.expires_after(std::chrono::seconds(60));
    if (events) {
      bhttp::response<bhttp::empty_body> head{bhttp::status::ok, 11};
      head.set(bhttp::field::content_type, events->content_type());
      head.set(bhttp::field::cache_control, "no-cache");
      head.set("X-Request-Id", request_id);
      head.set("X-Accel-Buffering", "no");
      head.set("Referrer-Policy", "no-referrer");
      for (const auto& [k, v] : resp.headers) head.set(k, v);
      head.chunked(true);
      // the connection ends with the stream (session() never reads after one): say so, or a
      // client pools it and its next request fails on a closed socket
      head.keep_alive(false);
      bhttp::response_serializer<bhttp::empty_body> sr{head};
      auto [ec, written] = co_await bhttp::async_write_header(stream, sr, kTuple);
      (void)written;
      if (ec) co_return;
      asio::steady_timer timer(co_await asio::this_coro::executor);
      int idle_ticks = 0;
      while (!stopping && !events->closed()) {
        // next() blocks briefly; poll with a short wait so the I/O thread is not held long
        auto ev = events->next(std::chrono::milliseconds(0));
        std::string chunk;
        if (ev) {
          chunk = *ev;
          idle_ticks = 0;
        } else if (events->sse() && ++idle_ticks >= 150) {  // ~15 s: keep proxies from closing the stream
          chunk = ": keep-alive\n\n";
          idle_ticks = 0;
        } else {
          timer.expires_after(events->poll());
          co_await timer.async_wait(kTuple);
          continue;
        }
        stream.expires_after(std::chrono::seconds(30));
        auto [ec2, n] = co_await asio::async_write(stream, bhttp::make_chunk(asio::buffer(chunk)), kTuple);
        if (ec2) co_return;
      }
      co_await asio::async_write(stream, bhttp::make_chunk_last(), kTuple);
      co_return;
    }
    bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(resp.status), 11};
    if (!resp.content_type.empty()) out.set(bhttp::field::content_type, resp.content_type);
    out.set(bhttp::field::server, "mingchu");
    out.set("X-Request-Id", request_id);
    out.set("X-Content-Type-Options", "nosniff");
    out.set("Referrer-Policy", "no-referrer");
    for (const auto& [k, v] : resp.headers) out.set(k, v);
    out.body() = std::move(resp.body);
    out.keep_alive(keep_alive);
    out.prepare_payload();
    co_await bhttp::async_write(stream, out, kTuple);
  }

  // Streams a BodySource as a chunked body. False when the body did not end cleanly (the
  // client went away, the source failed, the server stops): the connection must then close.
  awaitable<bool> write_source(beast::tcp_stream& stream, Response& resp, bool keep_alive,
                               const std::string& request_id) {
    BodySource& src = *resp.source;
    bhttp::response<bhttp::empty_body> head{static_cast<bhttp::status>(resp.status), 11};
    if (!resp.content_type.empty()) head.set(bhttp::field::content_type, resp.content_type);
    head.set(bhttp::field::server, "mingchu");
    head.set("X-Request-Id", request_id);
    head.set("X-Content-Type-Options", "nosniff");
    for (const auto& [k, v] : resp.headers) head.set(k, v);
    head.keep_alive(keep_alive);
    head.chunked(true);
    bhttp::response_serializer<bhttp::empty_body> sr{head};
    stream.expires_after(std::chrono::seconds(60));
    auto [ec, written] = co_await bhttp::async_write_header(stream, sr, kTuple);
    (void)written;
    if (ec) co_return false;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    int idle_ms = 1;
    for (;;) {
      if (stopping) co_return false;
      auto piece = src.read();
      if (!piece) break;
      if (piece->empty()) {
        // the producer is behind: wait a little longer each time, at most 20 ms
        timer.expires_after(std::chrono::milliseconds(idle_ms));
        co_await timer.async_wait(kTuple);
        idle_ms = std::min(idle_ms * 2, 20);
        continue;
      }
      idle_ms = 1;
      stream.expires_after(std::chrono::seconds(60));
      auto [ec2, n] = co_await asio::async_write(stream, bhttp::make_chunk(asio::buffer(*piece)), kTuple);
      if (ec2) co_return false;
    }
    if (src.failed()) co_return false;
    auto [ec3, n3] = co_await asio::async_write(stream, bhttp::make_chunk_last(), kTuple);
    co_return !ec3;
  }

  void begin_stop() {
    if (stopping.exchange(true)) return;
    log::info("stopping: no new connections; draining in-flight requests");
    boost::system::error_code ec;
    acceptor.close(ec);
    signals.cancel(ec);
    asio::co_spawn(io, drain(), asio::detached);
  }

  awaitable<void> drain() {
    asio::steady_timer t(io);
    auto deadline = std::chrono::steady_clock::now() + opt.drain_timeout;
    while (in_flight > 0 && std::chrono::steady_clock::now() < deadline) {
      t.expires_after(std::chrono::milliseconds(20));
      co_await t.async_wait(kTuple);
    }
    // close idle keep-alive and streaming connections
    std::lock_guard g(conns_mu);
    for (auto& w : conns) {
      if (auto s = w.lock()) {
        beast::error_code ec;
        s->socket().shutdown(tcp::socket::shutdown_both, ec);
        s->socket().close(ec);
      }
    }
    conns.clear();
    io.stop();
  }
};

Server::Server(ServerOptions opt, const Router& router, Metrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(opt), router, metrics)) {}

Server::~Server() = default;

unsigned short Server::bind() {
  auto& a = impl_->acceptor;
  tcp::endpoint ep(asio::ip::make_address(impl_->opt.host), impl_->opt.port);
  a.open(ep.protocol());
  a.set_option(asio::socket_base::reuse_address(true));
  a.bind(ep);
  a.listen(asio::socket_base::max_listen_connections);
  return a.local_endpoint().port();
}

void Server::run() {
  Impl& im = *impl_;
  im.signals.async_wait([&im](const boost::system::error_code& ec, int) {
    if (!ec) im.begin_stop();
  });
  asio::co_spawn(im.io, im.accept_loop(), asio::detached);
  std::vector<std::thread> threads;
  for (int i = 1; i < im.opt.threads; ++i) threads.emplace_back([&im] { im.io.run(); });
  im.io.run();
  for (auto& t : threads) t.join();
  // Tasks posted from other threads (Server::post) before this point still run, once; later
  // ones run on their caller's thread.
  {
    std::lock_guard g(im.post_mu);
    im.closed = true;
  }
  im.io.restart();
  im.io.poll();
}

void Server::post(std::function<void()> fn) {
  {
    std::lock_guard g(impl_->post_mu);
    if (!impl_->closed) return asio::post(impl_->io, std::move(fn));
  }
  fn();
}

void Server::stop() {
  asio::post(impl_->io, [this] { impl_->begin_stop(); });
}

}  // namespace mingchu::http
