#include "core/clock.hpp"

#include <chrono>

namespace mingchu {

TimeMs SystemClock::now_ms() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

ManualClock::ManualClock(bool frozen) : frozen_(frozen), base_ms_(SystemClock{}.now_ms()) {}

TimeMs ManualClock::now_ms() const {
  TimeMs base = frozen_ ? base_ms_.load() : SystemClock{}.now_ms();
  return base + offset_ms_.load();
}

void ManualClock::set_ms(TimeMs t) {
  base_ms_ = t;
  offset_ms_ = 0;
}

}  // namespace mingchu
