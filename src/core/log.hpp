// A small structured logger: text lines or JSON lines (one object per line) on stderr.
// Thread safe; the level and format are set once by the composition root.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace mingchu::log {

enum class Level { kDebug, kInfo, kWarn, kError };

struct Field {
  std::string_view key;
  std::string value;
};

void configure(Level min_level, bool json_lines);
bool parse_level(std::string_view s, Level& out);
void write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});
// Whether a line of this level would be written: check it before building costly fields.
bool enabled(Level level);

inline void debug(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kDebug, m, f); }
inline void info(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kInfo, m, f); }
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kWarn, m, f); }
inline void error(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kError, m, f); }

}  // namespace mingchu::log
