// libFuzzer target: MANSCDP bodies (any bytes, any declared encoding). Traps when a failure has no
// code or an accepted document breaks the reader's limits or is not UTF-8 afterwards; MANSCDP
// times (RecordInfo) that parse must print back the same.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sip/manscdp.hpp"

using namespace mingchu;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // a RecordInfo time: what parses prints back as the same 19 characters
  if (auto t = sip::parse_manscdp_time(in, 480); t && in[10] == 'T' &&
                                                 sip::manscdp_time(*t, 480) != in.substr(0, 19)) {
    __builtin_trap();
  }
  auto x = sip::parse_manscdp(in);
  if (!x) {
    if (x.error().code != "bad_manscdp") __builtin_trap();
    return 0;
  }
  if (x->cmd_type.empty() || x->root.empty() || x->items.size() > sip::kMaxItems) __builtin_trap();
  for (const auto& [k, v] : x->fields) {
    if (!sip::valid_utf8(v) || v.size() > 1024) __builtin_trap();
  }
  return 0;
}
