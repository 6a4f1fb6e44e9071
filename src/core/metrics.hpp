// Prometheus-style counters and histograms. One Metrics object is made by the composition
// root and handed to whoever counts; render() writes the text exposition format.
// Thread safety: all methods may be called from any thread; counters are atomics.
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace mingchu {

class Counter {
 public:
  void inc(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class Gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  void add(double d) {
    double cur = v_.load();
    while (!v_.compare_exchange_weak(cur, cur + d)) {
    }
  }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

// Latency histogram in seconds with fixed buckets from 0.5 ms to 10 s.
class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                     0.1,    0.25,  0.5,    1,     2.5,  5,    10};
  void observe(double seconds);
  std::uint64_t count() const { return count_.load(); }

 private:
  friend class Metrics;
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_us_{0};
};

class Metrics {
 public:
  // name like "mingchu_http_requests_total", labels like `route="/x",status="200"` (may be "").
  Counter& counter(const std::string& name, const std::string& labels, const std::string& help = "");
  Gauge& gauge(const std::string& name, const std::string& labels, const std::string& help = "");
  Histogram& histogram(const std::string& name, const std::string& labels, const std::string& help = "");
  std::string render() const;

 private:
  struct Family {
    std::string help;
    std::string type;
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
  };
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace mingchu
