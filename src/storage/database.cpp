#include "storage/database.hpp"

#include <charconv>
#include <condition_variable>
#include <mutex>

#include "storage/pool.hpp"

namespace mingchu::storage {

std::string Row::text(size_t i) const {
  const Value& v = cols.at(i);
  if (auto s = std::get_if<std::string>(&v)) return *s;
  if (auto n = std::get_if<std::int64_t>(&v)) return std::to_string(*n);
  if (auto d = std::get_if<double>(&v)) return std::to_string(*d);
  return {};
}

std::optional<std::string> Row::opt_text(size_t i) const {
  if (is_null(i)) return std::nullopt;
  return text(i);
}

std::int64_t Row::integer(size_t i) const {
  const Value& v = cols.at(i);
  if (auto n = std::get_if<std::int64_t>(&v)) return *n;
  if (auto d = std::get_if<double>(&v)) return static_cast<std::int64_t>(*d);
  if (auto s = std::get_if<std::string>(&v)) {
    if (*s == "t") return 1;  // PostgreSQL boolean text
    if (*s == "f") return 0;
    std::int64_t n = 0;
    auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), n);
    if (ec == std::errc() && p == s->data() + s->size()) return n;
    // numeric aggregates (SUM over bigint) may come back with a fraction
    try {
      return static_cast<std::int64_t>(std::stod(*s));
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

std::optional<std::int64_t> Row::opt_integer(size_t i) const {
  if (is_null(i)) return std::nullopt;
  return integer(i);
}

double Row::real(size_t i) const {
  const Value& v = cols.at(i);
  if (auto d = std::get_if<double>(&v)) return *d;
  if (auto n = std::get_if<std::int64_t>(&v)) return static_cast<double>(*n);
  if (auto s = std::get_if<std::string>(&v)) {
    try {
      return std::stod(*s);
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

Conn::~Conn() {
  if (c_ && db_) db_->release(std::move(c_));
}

Transaction::~Transaction() {
  if (!done_) {
    try {
      c_.rollback();
    } catch (...) {
      // the connection is broken; healthy() will keep it out of the pool
    }
  }
}

std::string like_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

PooledDatabase::PooledDatabase(Dialect d, int size, Factory f, std::string description)
    : dialect_(d), size_(size), factory_(std::move(f)), description_(std::move(description)) {}

Conn PooledDatabase::acquire() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return Conn(this, std::move(c));
  }
  ++open_;
  lock.unlock();
  try {
    return Conn(this, factory_());
  } catch (...) {
    std::lock_guard g(mu_);
    --open_;
    cv_.notify_one();
    throw;
  }
}

void PooledDatabase::release(std::unique_ptr<Connection> c) {
  std::lock_guard g(mu_);
  if (c->healthy()) {
    idle_.push_back(std::move(c));
  } else {
    --open_;
  }
  cv_.notify_one();
}

}  // namespace mingchu::storage
