#include "notify/backoff.hpp"

#include <algorithm>

namespace mingchu::notify {

TimeMs backoff_delay(const RetryPolicy& p, int attempts, double u) {
  if (attempts < 1) attempts = 1;
  TimeMs d = std::max<TimeMs>(p.base_ms, 1);
  // doubling stops at the cap, so no overflow however many attempts
  for (int i = 1; i < attempts && d < p.cap_ms; ++i) d *= 2;
  d = std::min(d, p.cap_ms);
  u = std::clamp(u, 0.0, 1.0);
  double j = std::clamp(p.jitter, 0.0, 1.0);
  auto out = static_cast<TimeMs>(static_cast<double>(d) * (1.0 - j * u));
  return std::max<TimeMs>(out, 1);
}

}  // namespace mingchu::notify
