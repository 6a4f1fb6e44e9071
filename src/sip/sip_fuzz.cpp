// libFuzzer target: SIP messages from the network — parse_sip (libosip2 underneath) and the TCP
// framing sip_frame_length on arbitrary bytes. Traps when a failure has no code, a parsed message
// lacks what the server relies on, or a frame length points outside the buffer.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sip/sip_message.hpp"

using namespace mingchu;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  long n = sip::sip_frame_length(in);
  if (n > static_cast<long>(size) || n > static_cast<long>(sip::kMaxMessageBytes)) __builtin_trap();
  auto m = sip::parse_sip(in);
  if (!m) {
    if (m.error().code != "bad_sip") __builtin_trap();
  } else {
    if (m->call_id.empty() || m->vias.empty()) __builtin_trap();
    if (m->request == m->method.empty()) __builtin_trap();
    if (m->request) (void)sip::build_response(*m, 200, "OK", "t");
  }
  return 0;
}
