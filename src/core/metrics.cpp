#include "core/metrics.hpp"

#include <cstdio>

namespace mingchu {

void Histogram::observe(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

Counter& Metrics::counter(const std::string& name, const std::string& labels, const std::string& help) {
  std::lock_guard g(mu_);
  Family& f = families_[name];
  f.type = "counter";
  if (f.help.empty()) f.help = help;
  auto& p = f.counters[labels];
  if (!p) p = std::make_unique<Counter>();
  return *p;
}

Gauge& Metrics::gauge(const std::string& name, const std::string& labels, const std::string& help) {
  std::lock_guard g(mu_);
  Family& f = families_[name];
  f.type = "gauge";
  if (f.help.empty()) f.help = help;
  auto& p = f.gauges[labels];
  if (!p) p = std::make_unique<Gauge>();
  return *p;
}

Histogram& Metrics::histogram(const std::string& name, const std::string& labels, const std::string& help) {
  std::lock_guard g(mu_);
  Family& f = families_[name];
  f.type = "histogram";
  if (f.help.empty()) f.help = help;
  auto& p = f.histograms[labels];
  if (!p) p = std::make_unique<Histogram>();
  return *p;
}

std::string Metrics::render() const {
  std::lock_guard g(mu_);
  std::string out;
  char buf[64];
  auto with = [](const std::string& labels, const std::string& extra) {
    if (labels.empty() && extra.empty()) return std::string();
    if (labels.empty()) return "{" + extra + "}";
    if (extra.empty()) return "{" + labels + "}";
    return "{" + labels + "," + extra + "}";
  };
  for (const auto& [name, f] : families_) {
    if (!f.help.empty()) out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + f.type + "\n";
    for (const auto& [labels, c] : f.counters) out += name + with(labels, "") + " " + std::to_string(c->value()) + "\n";
    for (const auto& [labels, gg] : f.gauges) {
      std::snprintf(buf, sizeof buf, "%.6g", gg->value());
      out += name + with(labels, "") + " " + buf + "\n";
    }
    for (const auto& [labels, h] : f.histograms) {
      std::uint64_t cum = 0;
      for (size_t i = 0; i < Histogram::kBounds.size(); ++i) {
        cum += h->buckets_[i].load();
        std::snprintf(buf, sizeof buf, "%g", Histogram::kBounds[i]);
        out += name + "_bucket" + with(labels, std::string("le=\"") + buf + "\"") + " " + std::to_string(cum) + "\n";
      }
      cum += h->buckets_.back().load();
      out += name + "_bucket" + with(labels, "le=\"+Inf\"") + " " + std::to_string(cum) + "\n";
      std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(h->sum_us_.load()) / 1e6);
      out += name + "_sum" + with(labels, "") + " " + buf + "\n";
      out += name + "_count" + with(labels, "") + " " + std::to_string(h->count_.load()) + "\n";
    }
  }
  return out;
}

}  // namespace mingchu
