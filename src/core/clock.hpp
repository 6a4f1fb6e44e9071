// Time as an interface. Deadlines, escalations, expiry and lockouts read a Clock handed to
// them; nothing in the program calls the system clock directly except SystemClock.
// Thread safety: all implementations may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace mingchu {

// Milliseconds since the Unix epoch (UTC).
using TimeMs = std::int64_t;
constexpr TimeMs kSecondMs = 1000;
constexpr TimeMs kMinuteMs = 60 * kSecondMs;
constexpr TimeMs kHourMs = 60 * kMinuteMs;
constexpr TimeMs kDayMs = 24 * kHourMs;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeMs now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimeMs now_ms() const override;
};

// Real time plus an offset that only moves forward: time keeps flowing (heartbeats and
// timeouts behave normally) and tests may jump ahead through deadlines. Used by
// `serve --manual-clock` and by unit tests (which may also freeze it).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(bool frozen = false);
  TimeMs now_ms() const override;
  void advance_ms(TimeMs delta) { offset_ms_.fetch_add(delta); }
  void set_ms(TimeMs t);  // only meaningful when frozen

 private:
  bool frozen_;
  std::atomic<TimeMs> base_ms_;
  std::atomic<TimeMs> offset_ms_{0};
};

}  // namespace mingchu
