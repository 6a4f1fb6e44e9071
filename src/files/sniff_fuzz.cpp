// libFuzzer target: upload sniffing, the multipart parser (fixed boundary "XyZ", so the corpus
// in fuzz/corpus/sniff/ can hold real bodies) and the filename sanitiser, on arbitrary bytes.
// Besides crashes and sanitizer reports it traps when a documented guarantee breaks.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "files/multipart.hpp"
#include "files/sniff.hpp"

namespace {

constexpr size_t kMaxParts = 16;

void check_filename(std::string_view f) {
  if (f.size() > 255 || f.find('/') != std::string_view::npos || f.find('\\') != std::string_view::npos ||
      f.find("..") != std::string_view::npos) {
    __builtin_trap();
  }
  for (unsigned char c : f) {
    if (c < 0x20 || c == 0x7F) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  auto type = mingchu::files::sniff_content_type(in);
  if (type && type->empty()) __builtin_trap();

  auto parts = mingchu::files::parse_multipart("multipart/form-data; boundary=XyZ", in, kMaxParts);
  if (parts) {
    if (parts->size() > kMaxParts) __builtin_trap();
    size_t total = 0;
    for (const auto& p : *parts) {
      if (p.name.empty()) __builtin_trap();
      if (!p.is_file && !p.filename.empty()) __builtin_trap();
      check_filename(p.filename);
      total += p.data.size();
    }
    if (total > size) __builtin_trap();
  } else if (parts.error().code != "malformed_multipart" && parts.error().code != "too_many_parts") {
    __builtin_trap();
  }

  check_filename(mingchu::files::sanitize_filename(in));
  return 0;
}
