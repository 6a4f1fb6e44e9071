#include "core/log.hpp"

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "core/time.hpp"

namespace mingchu::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<bool> g_json{false};
std::mutex g_mu;
const char* name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}
}  // namespace

void configure(Level min_level, bool json_lines) {
  g_level = static_cast<int>(min_level);
  g_json = json_lines;
}

bool parse_level(std::string_view s, Level& out) {
  if (s == "debug") out = Level::kDebug;
  else if (s == "info") out = Level::kInfo;
  else if (s == "warn") out = Level::kWarn;
  else if (s == "error") out = Level::kError;
  else return false;
  return true;
}

bool enabled(Level level) { return static_cast<int>(level) >= g_level.load(); }

void write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (static_cast<int>(level) < g_level.load()) return;
  // Log timestamps are wall time by design: they describe when the line was written.
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch()).count();
  std::string line;
  if (g_json) {
    boost::json::object o{{"ts", format_rfc3339(now)}, {"level", name(level)}, {"msg", msg}};
    for (const auto& f : fields) o[f.key] = f.value;
    line = boost::json::serialize(o);
  } else {
    line = format_rfc3339(now) + " " + name(level) + " " + std::string(msg);
    for (const auto& f : fields) {
      line += " ";
      line += f.key;
      line += "=";
      line += f.value;
    }
  }
  line.push_back('\n');
  std::lock_guard g(g_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace mingchu::log
