// JSON at the edge: parse untrusted bodies with limits, and read typed fields out of an
// object so that every failure names the field. Boost.JSON is the JSON library.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace mingchu {

namespace json = boost::json;

// Parses text into a JSON object. kMalformed (400) in every case: empty_body for no text,
// malformed_json on syntax errors (with the parser's message), not_an_object when the top
// level is not an object. Nesting deeper than max_depth is malformed (protects the stack).
Result<json::object> parse_object(std::string_view text, int max_depth = 32);
Result<json::value> parse_value(std::string_view text, int max_depth = 32);

// Reads fields of one JSON object. The first failure is kept and later reads are no-ops
// that return empty values, so a handler reads everything and checks ok() once.
// Unknown fields (never read) are rejected by finish().
class ObjectReader {
 public:
  explicit ObjectReader(const json::object& obj, std::string prefix = "");

  // Strings are trimmed of nothing; they must be valid UTF-8 (Boost.JSON guarantees it)
  // and no longer than max_chars code points; control characters other than \n\t are refused.
  std::optional<std::string> opt_string(std::string_view key, size_t max_chars = 256);
  std::string req_string(std::string_view key, size_t max_chars = 256);
  std::optional<std::int64_t> opt_int(std::string_view key, std::int64_t min, std::int64_t max);
  std::optional<double> opt_number(std::string_view key, double min, double max);
  std::optional<bool> opt_bool(std::string_view key);
  const json::object* opt_object(std::string_view key);
  const json::array* opt_array(std::string_view key, size_t max_items);
  // True when the key is present with a JSON null (to clear a field in PATCH).
  bool is_null(std::string_view key) const;
  bool has(std::string_view key) const;
  // Marks key as known without reading it.
  void allow(std::string_view key);

  // Records a failure for key (if none recorded yet).
  void fail(std::string_view key, std::string code, std::string message);

  // Checks for unknown fields; returns the first failure, if any.
  Status finish();
  bool ok() const { return !error_.has_value(); }
  const json::object& object() const { return obj_; }
  std::string path(std::string_view key) const;

 private:
  const json::value* find(std::string_view key);

  const json::object& obj_;
  std::string prefix_;
  std::set<std::string, std::less<>> seen_;
  std::optional<Error> error_;
};

// True when s contains characters that are never acceptable in a single-line text field.
bool has_control_chars(std::string_view s, bool allow_newlines);
size_t utf8_length(std::string_view s);

// Serialises a value.
inline std::string to_text(const json::value& v) { return json::serialize(v); }

}  // namespace mingchu
