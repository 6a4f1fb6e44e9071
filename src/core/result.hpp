// Result<T>: the value of an operation whose failure the caller expects (bad input, not
// found, state conflict). Bugs are not Results; they are exceptions or asserts.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace mingchu {

// The kinds of expected failure. Each maps to one HTTP status in the http module.
enum class ErrorKind {
  kMalformed,     // 400: not parseable at all
  kUnauthorized,  // 401
  kForbidden,     // 403
  kNotFound,      // 404: also for objects outside the caller's scope
  kConflict,      // 409: state conflict, duplicate
  kTooLarge,      // 413
  kUnsupported,   // 415
  kInvalid,       // 422: valid syntax, invalid content
  kLocked,        // 423
  kRateLimited,   // 429
  kUnavailable,   // 503
  kInternal,      // 500
};

int http_status(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string code;     // snake_case, stable, for programs
  std::string message;  // for people
  std::string field;    // the offending field, when there is one

  static Error malformed(std::string code, std::string message) {
    return {ErrorKind::kMalformed, std::move(code), std::move(message), {}};
  }
  static Error invalid(std::string field, std::string code, std::string message) {
    return {ErrorKind::kInvalid, std::move(code), std::move(message), std::move(field)};
  }
  static Error not_found(std::string what) {
    return {ErrorKind::kNotFound, "not_found", what + " not found", {}};
  }
  static Error conflict(std::string code, std::string message) {
    return {ErrorKind::kConflict, std::move(code), std::move(message), {}};
  }
  static Error forbidden(std::string message) {
    return {ErrorKind::kForbidden, "forbidden", std::move(message), {}};
  }
  static Error unauthorized(std::string message) {
    return {ErrorKind::kUnauthorized, "unauthorized", std::move(message), {}};
  }
  static Error unavailable(std::string message) {
    return {ErrorKind::kUnavailable, "unavailable", std::move(message), {}};
  }
  static Error internal(std::string message) {
    return {ErrorKind::kInternal, "internal_error", std::move(message), {}};
  }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}       // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}   // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result of an operation with no value.
struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Ok{}; }

}  // namespace mingchu
