// The sending side of GB/T 28181 media (the cascade to an upper platform, docs/gb28181.md): an
// MPEG-2 program stream muxer for H.264 / H.265 access units (pack header, system header and PSM
// with its CRC on keyframes, PES packets with PTS and DTS), RTP packets of it (RFC 3550, one
// frame's packets share the timestamp, the marker on the last) and RFC 4571 framing for TCP.
// The demuxer in media_wire.hpp reads back what this writes (tested in ps_mux_test.cpp).
//
// Threads: a PsMuxer or RtpPacketizer is used by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mingchu::sip {

class PsMuxer {
 public:
  static constexpr size_t kMaxPesPayload = 65400;  // a PES length field holds at most 65535

  // stream_type: kStreamH264 (0x1B) or kStreamH265 (0x24).
  explicit PsMuxer(int stream_type) : stream_type_(stream_type) {}
  // One access unit (Annex B) as a program stream: a pack header (SCR from dts); on keyframes
  // and the first frame also the system header and the PSM; then video PES packets (id 0xE0),
  // the first with PTS (and DTS when it differs), the rest continuing the frame.
  std::string mux(std::string_view au, std::int64_t pts90, std::int64_t dts90, bool key);

 private:
  int stream_type_;
  bool headers_sent_ = false;
};

// MPEG-2 CRC-32 (polynomial 0x04C11DB7, no reflection), as in the PSM.
std::uint32_t crc32_mpeg2(const std::uint8_t* p, size_t n);

class RtpPacketizer {
 public:
  RtpPacketizer(std::uint32_t ssrc, std::uint8_t payload_type = 96, size_t max_payload = 1400)
      : ssrc_(ssrc), pt_(payload_type), max_payload_(max_payload) {}
  // The RTP packets carrying one PS frame: the timestamp for all, the marker on the last.
  std::vector<std::string> packetize(std::string_view frame, std::uint32_t timestamp90);
  std::uint16_t next_seq() const { return seq_; }

 private:
  std::uint32_t ssrc_;
  std::uint8_t pt_;
  size_t max_payload_;
  std::uint16_t seq_ = 0;
};

// RFC 4571: the 16-bit length, then the packet.
std::string rfc4571_frame(std::string_view packet);

}  // namespace mingchu::sip
