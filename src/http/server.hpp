// The HTTP server: Boost.Beast over Asio with C++20 coroutines, keep-alive, a body limit
// per route, request ids, access logs, request metrics, and a graceful stop.
//
// Threads: run() blocks and serves on `threads` threads. Synchronous handlers run on an
// I/O thread (they may block on the database, so the pool is sized for that); async
// handlers complete from any thread. stop() may be called from any thread (e.g. a signal
// handler's strand): it stops accepting, lets in-flight requests finish (up to the drain
// timeout) and closes idle and streaming connections.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/metrics.hpp"
#include "core/net.hpp"
#include "http/router.hpp"

namespace mingchu::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  unsigned short port = 8080;
  int threads = 8;
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds drain_timeout{15};
  size_t header_limit = 16 * 1024;
  // Peers (load balancers, reverse proxies) whose X-Forwarded-For names the client. From any
  // other peer the header is ignored: the client is the peer.
  std::vector<net::IpNetwork> trusted_proxies;
};

class Server {
 public:
  Server(ServerOptions opt, const Router& router, Metrics& metrics);
  ~Server();
  // Binds (throws std::runtime_error when the address is taken) and returns the bound port.
  unsigned short bind();
  // Serves until stop() or SIGINT/SIGTERM; returns after the drain.
  void run();
  void stop();
  // Runs fn on one of the server's I/O threads, or on the caller's once run() has returned:
  // every task runs exactly once.
  void post(std::function<void()> fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mingchu::http
