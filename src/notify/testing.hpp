// For tests only: a tiny HTTP/1.1 server on 127.0.0.1 that records every request and
// answers with a status the test chooses, and a Channel that records what it was asked to
// send. Header-only so that nothing of it ends up in the program.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "notify/channel.hpp"

namespace mingchu::notify::testing {

struct RecordedRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  std::string header(const std::string& lower) const {
    for (const auto& [k, v] : headers) {
      if (k == lower) return v;
    }
    return {};
  }
};

class RecordingHttpServer {
 public:
  // status_for decides each answer (default 200); it may sleep to simulate a slow receiver.
  explicit RecordingHttpServer(std::function<int(const RecordedRequest&)> status_for = nullptr)
      : status_for_(std::move(status_for)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 64);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~RecordingHttpServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  unsigned short port() const { return port_; }
  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<RecordedRequest> requests() {
    std::lock_guard g(mu_);
    return requests_;
  }
  size_t count() {
    std::lock_guard g(mu_);
    return requests_.size();
  }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      serve(c);
      ::close(c);
    }
  }
  void serve(int c) {
    std::string in;
    char buf[4096];
    size_t head_end = std::string::npos;
    size_t want = 0;
    for (;;) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) return;
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
      if (head_end == std::string::npos) {
        head_end = in.find("\r\n\r\n");
        if (head_end == std::string::npos) continue;
        RecordedRequest r = parse_head(in.substr(0, head_end));
        want = static_cast<size_t>(std::stoul(r.header("content-length").empty() ? "0" : r.header("content-length")));
      }
      if (in.size() >= head_end + 4 + want) break;
    }
    RecordedRequest r = parse_head(in.substr(0, head_end));
    r.body = in.substr(head_end + 4, want);
    int status = status_for_ ? status_for_(r) : 200;
    {
      std::lock_guard g(mu_);
      requests_.push_back(r);
    }
    std::string resp = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    ::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
  }
  static RecordedRequest parse_head(const std::string& head) {
    RecordedRequest r;
    size_t eol = head.find("\r\n");
    std::string first = head.substr(0, eol);
    size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
    r.method = first.substr(0, sp1);
    r.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t pos = eol == std::string::npos ? head.size() : eol + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string k = line.substr(0, colon);
        for (char& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        size_t v = colon + 1;
        while (v < line.size() && line[v] == ' ') ++v;
        r.headers.emplace_back(k, line.substr(v));
      }
      pos = e + 2;
    }
    return r;
  }

  std::function<int(const RecordedRequest&)> status_for_;
  int fd_ = -1;
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<RecordedRequest> requests_;
};

// A channel with one target per event ("t1", or what targets_for returns) that records
// every send as "<delivery id>#<attempt number>" and answers with outcome_for.
class RecordingChannel final : public Channel {
 public:
  explicit RecordingChannel(std::string name = "test", int parallelism = 1)
      : name_(std::move(name)), par_(parallelism) {}
  std::string_view name() const override { return name_; }
  std::vector<std::string> targets(storage::Connection&, const OutboxEvent& e) override {
    return targets_for ? targets_for(e) : std::vector<std::string>{"t1"};
  }
  DeliveryOutcome deliver_one(const DeliveryJob& job) override {
    {
      std::lock_guard g(mu_);
      sends_.push_back(job.id + "#" + std::to_string(job.attempts + 1));
      events_.push_back(job.event.id);
    }
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    if (outcome_for) return outcome_for(job);
    DeliveryOutcome o;
    o.delivered = true;
    o.status = 200;
    return o;
  }
  int parallelism() const override { return par_; }
  int batch_size() const override { return batch; }
  std::vector<std::string> sends() {
    std::lock_guard g(mu_);
    return sends_;
  }
  std::vector<std::string> events() {
    std::lock_guard g(mu_);
    return events_;
  }

  std::function<std::vector<std::string>(const OutboxEvent&)> targets_for;
  std::function<DeliveryOutcome(const DeliveryJob&)> outcome_for;
  int delay_ms = 0;
  int batch = 8;

 private:
  std::string name_;
  int par_;
  std::mutex mu_;
  std::vector<std::string> sends_;
  std::vector<std::string> events_;
};

}  // namespace mingchu::notify::testing
