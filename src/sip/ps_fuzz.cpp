// libFuzzer target: the media path — RTP packets and the program stream demuxer fed arbitrary
// bytes in pieces whose sizes come from the input. Traps when a frame is empty, not H.264/H.265,
// or larger than the demuxer's limit.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sip/media_wire.hpp"

using namespace mingchu;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  if (size == 0) return 0;
  (void)sip::parse_rtp(data, size);
  sip::PsDemuxer d;
  std::vector<sip::PsFrame> out;
  size_t pos = 1, piece = static_cast<size_t>(data[0]) * 7 + 1;
  while (pos < size) {
    size_t n = std::min(piece, size - pos);
    d.push(data + pos, n, out);
    if (data[pos] & 1) d.end_of_frame(out);
    pos += n;
  }
  d.end_of_frame(out);
  for (const auto& f : out) {
    if (f.data.empty() || f.data.size() > sip::PsDemuxer::kMaxFrame) __builtin_trap();
    if (f.stream_type != sip::kStreamH264 && f.stream_type != sip::kStreamH265) __builtin_trap();
  }
  return 0;
}
