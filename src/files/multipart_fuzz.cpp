// libFuzzer target: the multipart/form-data parser with both of its untrusted inputs — the
// request's Content-Type header (boundary quoted or not, parameters in any order) and the body.
// The input's first line is the header, the rest the body (the seeds in fuzz/corpus/multipart/
// are real requests in that form). Besides crashes and sanitizer reports it traps when a
// documented guarantee of files/multipart.hpp breaks.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "files/multipart.hpp"

namespace {

constexpr size_t kMaxParts = 8;

bool has_control(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nl = in.find('\n');
  std::string_view header = nl == std::string_view::npos ? in : in.substr(0, nl);
  std::string_view body = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);

  auto parts = mingchu::files::parse_multipart(header, body, kMaxParts);
  if (!parts) {
    const auto& e = parts.error();
    if (e.code != "malformed_multipart" && e.code != "too_many_parts") __builtin_trap();
    if (e.message.empty()) __builtin_trap();
    return 0;
  }
  if (parts->size() > kMaxParts) __builtin_trap();
  size_t total = 0;
  for (const auto& p : *parts) {
    if (p.name.empty() || has_control(p.name)) __builtin_trap();
    if (!p.is_file && !p.filename.empty()) __builtin_trap();
    if (p.filename.size() > 255 || p.filename.find('/') != std::string_view::npos ||
        p.filename.find('\\') != std::string_view::npos || has_control(p.filename)) {
      __builtin_trap();
    }
    total += p.data.size();
  }
  if (total > body.size()) __builtin_trap();
  return 0;
}
