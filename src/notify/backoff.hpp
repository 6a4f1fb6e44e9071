// When a failed delivery is tried again: exponential backoff with jitter, and when it is
// given up (dead-lettered). Pure functions; the caller supplies the random number, so tests
// pin the schedule exactly.
#pragma once

#include "core/clock.hpp"

namespace mingchu::notify {

struct RetryPolicy {
  TimeMs base_ms = 1000;           // delay after the first failure
  TimeMs cap_ms = 10 * kMinuteMs;  // no delay is longer
  double jitter = 0.2;             // a delay is shortened by up to this fraction
  int max_attempts = 12;           // after this many failed attempts: dead
};

// The delay before attempt number `attempts + 1`, after `attempts` (>= 1) failed ones:
// min(cap, base * 2^(attempts-1)) * (1 - jitter * u), u in [0, 1). Never below 1 ms.
TimeMs backoff_delay(const RetryPolicy& p, int attempts, double u);

// True when a delivery that has now failed `attempts` times is given up.
inline bool exhausted(const RetryPolicy& p, int attempts) { return attempts >= p.max_attempts; }

}  // namespace mingchu::notify
