// RFC 3339 formatting and parsing, and calendar dates (YYYY-MM-DD).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace mingchu {

// Formats t as RFC 3339 with the given UTC offset in minutes (China: +480), e.g.
// "2026-11-22T08:30:00+08:00". Milliseconds are kept when non-zero.
std::string format_rfc3339(TimeMs t, int offset_minutes = 480);

// Parses RFC 3339 ("...Z" or "...+08:00", optional fraction). nullopt when malformed.
std::optional<TimeMs> parse_rfc3339(std::string_view s);

// Days since 1970-01-01 for a civil date; and back. Dates are in local (offset) time.
std::optional<int> parse_date(std::string_view yyyy_mm_dd);
std::string format_date(int days_since_epoch);
// The local calendar day of instant t.
int local_day(TimeMs t, int offset_minutes = 480);

}  // namespace mingchu
