#include "core/json.hpp"

namespace mingchu {

Result<json::value> parse_value(std::string_view text, int max_depth) {
  json::parse_options opt;
  opt.max_depth = static_cast<std::size_t>(max_depth);
  boost::system::error_code ec;
  json::stream_parser p({}, opt);
  p.write(text.data(), text.size(), ec);
  if (!ec) p.finish(ec);
  if (ec) {
    return Error::malformed("malformed_json", "request body is not valid JSON: " + ec.message());
  }
  return p.release();
}

Result<json::object> parse_object(std::string_view text, int max_depth) {
  if (text.empty()) return Error::malformed("empty_body", "request body is empty; a JSON object is expected");
  auto v = parse_value(text, max_depth);
  if (!v) return v.error();
  if (!v->is_object()) {
    return Error::malformed("not_an_object", "request body must be a JSON object");
  }
  return std::move(v->as_object());
}

bool has_control_chars(std::string_view s, bool allow_newlines) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      if (allow_newlines && (c == '\n' || c == '\t' || c == '\r')) continue;
      return true;
    }
  }
  return false;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

ObjectReader::ObjectReader(const json::object& obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}

std::string ObjectReader::path(std::string_view key) const {
  return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
}

void ObjectReader::fail(std::string_view key, std::string code, std::string message) {
  if (!error_) error_ = Error::invalid(path(key), std::move(code), std::move(message));
}

const json::value* ObjectReader::find(std::string_view key) {
  seen_.emplace(key);
  if (error_) return nullptr;
  auto it = obj_.find(key);
  if (it == obj_.end() || it->value().is_null()) return nullptr;
  return &it->value();
}

bool ObjectReader::is_null(std::string_view key) const {
  auto it = obj_.find(key);
  return it != obj_.end() && it->value().is_null();
}

bool ObjectReader::has(std::string_view key) const { return obj_.contains(key); }

void ObjectReader::allow(std::string_view key) { seen_.emplace(key); }

std::optional<std::string> ObjectReader::opt_string(std::string_view key, size_t max_chars) {
  const json::value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    fail(key, "wrong_type", "field '" + path(key) + "' must be a string");
    return std::nullopt;
  }
  std::string s(v->as_string());
  if (utf8_length(s) > max_chars) {
    fail(key, "too_long", "field '" + path(key) + "' is longer than " + std::to_string(max_chars) + " characters");
    return std::nullopt;
  }
  if (has_control_chars(s, max_chars > 256)) {
    fail(key, "control_characters", "field '" + path(key) + "' contains control characters");
    return std::nullopt;
  }
  return s;
}

std::string ObjectReader::req_string(std::string_view key, size_t max_chars) {
  bool present = obj_.contains(key) && !obj_.at(key).is_null();
  auto s = opt_string(key, max_chars);
  if (!present) {
    fail(key, "missing_field", "field '" + path(key) + "' is required");
    return {};
  }
  if (s && s->empty()) {
    fail(key, "empty_field", "field '" + path(key) + "' must not be empty");
    return {};
  }
  return s.value_or("");
}

std::optional<std::int64_t> ObjectReader::opt_int(std::string_view key, std::int64_t min, std::int64_t max) {
  const json::value* v = find(key);
  if (!v) return std::nullopt;
  std::int64_t n;
  if (v->is_int64()) {
    n = v->as_int64();
  } else if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    n = static_cast<std::int64_t>(v->as_uint64());
  } else if (v->is_double() && v->as_double() > -9e15 && v->as_double() < 9e15 &&
             v->as_double() == static_cast<double>(static_cast<std::int64_t>(v->as_double()))) {
    // Range first: casting a double outside int64 is undefined (found by json_fuzz).
    n = static_cast<std::int64_t>(v->as_double());
  } else {
    fail(key, "wrong_type", "field '" + path(key) + "' must be an integer");
    return std::nullopt;
  }
  if (n < min || n > max) {
    fail(key, "out_of_range",
         "field '" + path(key) + "' must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return n;
}

std::optional<double> ObjectReader::opt_number(std::string_view key, double min, double max) {
  const json::value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_number()) {
    fail(key, "wrong_type", "field '" + path(key) + "' must be a number");
    return std::nullopt;
  }
  double d = v->to_number<double>();
  if (!(d >= min && d <= max)) {
    fail(key, "out_of_range", "field '" + path(key) + "' is out of range");
    return std::nullopt;
  }
  return d;
}

std::optional<bool> ObjectReader::opt_bool(std::string_view key) {
  const json::value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_bool()) {
    fail(key, "wrong_type", "field '" + path(key) + "' must be true or false");
    return std::nullopt;
  }
  return v->as_bool();
}

const json::object* ObjectReader::opt_object(std::string_view key) {
  const json::value* v = find(key);
  if (!v) return nullptr;
  if (!v->is_object()) {
    fail(key, "wrong_type", "field '" + path(key) + "' must be an object");
    return nullptr;
  }
  return &v->as_object();
}

const json::array* ObjectReader::opt_array(std::string_view key, size_t max_items) {
  const json::value* v = find(key);
  if (!v) return nullptr;
  if (!v->is_array()) {
    fail(key, "wrong_type", "field '" + path(key) + "' must be an array");
    return nullptr;
  }
  if (v->as_array().size() > max_items) {
    fail(key, "too_many_items", "field '" + path(key) + "' has more than " + std::to_string(max_items) + " items");
    return nullptr;
  }
  return &v->as_array();
}

Status ObjectReader::finish() {
  if (!error_) {
    for (const auto& kv : obj_) {
      if (!seen_.contains(std::string_view(kv.key()))) {
        std::string k(kv.key());
        if (k.size() > 64) k = k.substr(0, 64) + "…";
        error_ = Error::invalid(path(k), "unknown_field", "unknown field '" + path(k) + "'");
        break;
      }
    }
  }
  if (error_) return *error_;
  return ok_status();
}

}  // namespace mingchu
