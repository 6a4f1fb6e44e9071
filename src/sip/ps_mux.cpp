#include "sip/ps_mux.hpp"

#include <algorithm>

namespace mingchu::sip {
namespace {

void put16(std::string& o, size_t v) {
  o += static_cast<char>((v >> 8) & 0xFF);
  o += static_cast<char>(v & 0xFF);
}

// The 5 bytes of a PES PTS or DTS with its 4-bit prefix (0010 PTS only, 0011 PTS, 0001 DTS).
void put_ts(std::string& o, int prefix, std::int64_t ts) {
  ts &= (std::int64_t{1} << 33) - 1;
  o += static_cast<char>((prefix << 4) | (((ts >> 30) & 7) << 1) | 1);
  o += static_cast<char>((ts >> 22) & 0xFF);
  o += static_cast<char>((((ts >> 15) & 0x7F) << 1) | 1);
  o += static_cast<char>((ts >> 7) & 0xFF);
  o += static_cast<char>(((ts & 0x7F) << 1) | 1);
}

}  // namespace

std::uint32_t crc32_mpeg2(const std::uint8_t* p, size_t n) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= static_cast<std::uint32_t>(p[i]) << 24;
    for (int b = 0; b < 8; ++b) crc = (crc & 0x80000000u) ? (crc << 1) ^ 0x04C11DB7u : crc << 1;
  }
  return crc;
}

std::string PsMuxer::mux(std::string_view au, std::int64_t pts90, std::int64_t dts90, bool key) {
  if (dts90 < 0) dts90 = pts90;
  std::string o;
  o.reserve(au.size() + 64 + au.size() / kMaxPesPayload * 20);
  // pack header (ISO 13818-1 §2.5.3.3): SCR base = dts, extension 0, mux rate, no stuffing
  std::int64_t scr = dts90 & ((std::int64_t{1} << 33) - 1);
  o.append("\0\0\1\xBA", 4);
  o += static_cast<char>(0x44 | (((scr >> 30) & 7) << 3) | ((scr >> 28) & 3));
  o += static_cast<char>((scr >> 20) & 0xFF);
  o += static_cast<char>((((scr >> 15) & 0x1F) << 3) | 0x04 | ((scr >> 13) & 3));
  o += static_cast<char>((scr >> 5) & 0xFF);
  o += static_cast<char>(((scr & 0x1F) << 3) | 0x04);
  o += static_cast<char>(0x01);             // SCR extension 0, marker
  constexpr std::uint32_t kMuxRate = 6106;  // in 50 byte/s units (~2.4 Mbit/s), informative
  o += static_cast<char>((kMuxRate >> 14) & 0xFF);
  o += static_cast<char>((kMuxRate >> 6) & 0xFF);
  o += static_cast<char>(((kMuxRate & 0x3F) << 2) | 0x03);
  o += static_cast<char>(0xF8);  // reserved, stuffing length 0
  if (key || !headers_sent_) {
    headers_sent_ = true;
    // system header (§2.5.3.5): rate bound, 1 video stream, its buffer bound
    std::string sys;
    sys += static_cast<char>(0x80 | ((kMuxRate >> 15) & 0x7F));
    sys += static_cast<char>((kMuxRate >> 7) & 0xFF);
    sys += static_cast<char>(((kMuxRate & 0x7F) << 1) | 1);
    sys += static_cast<char>(0x00);                // audio bound 0, fixed 0, CSPS 0
    sys += static_cast<char>(0xE1);                // audio lock, video lock, marker, video bound 1
    sys += static_cast<char>(0x7F);                // packet rate restriction 0, reserved
    sys += static_cast<char>(0xE0);                // stream id: video 0
    sys += static_cast<char>(0xE0 | 0x20 | 0x00);  // '11', buffer scale 1 (1024 bytes), size high
    sys += static_cast<char>(0x80);                // buffer size 128 KiB
    o.append("\0\0\1\xBB", 4);
    put16(o, sys.size());
    o += sys;
    // program stream map (§2.5.4): one elementary stream, no descriptors, CRC-32
    std::string psm;
    psm.append("\0\0\1\xBC", 4);
    std::string body;
    body += static_cast<char>(0xE0);  // current_next 1, version 0
    body += static_cast<char>(0xFF);  // reserved, marker
    put16(body, 0);                   // program stream info length
    put16(body, 4);                   // elementary stream map length
    body += static_cast<char>(stream_type_);
    body += static_cast<char>(0xE0);
    put16(body, 0);
    put16(psm, body.size() + 4);
    psm += body;
    std::uint32_t crc = crc32_mpeg2(reinterpret_cast<const std::uint8_t*>(psm.data()), psm.size());
    for (int s = 24; s >= 0; s -= 8) psm += static_cast<char>((crc >> s) & 0xFF);
    o += psm;
  }
  bool with_dts = dts90 != pts90;
  size_t pos = 0;
  bool first = true;
  do {
    size_t chunk = std::min(au.size() - pos, kMaxPesPayload);
    size_t hdr = first ? (with_dts ? 10 : 5) : 0;
    o.append("\0\0\1\xE0", 4);
    put16(o, 3 + hdr + chunk);
    o += static_cast<char>(first && key ? 0x84 : 0x80);  // '10', data alignment on a keyframe start
    o += static_cast<char>(!first ? 0x00 : with_dts ? 0xC0 : 0x80);
    o += static_cast<char>(hdr);
    if (first && with_dts) {
      put_ts(o, 3, pts90);
      put_ts(o, 1, dts90);
    } else if (first) {
      put_ts(o, 2, pts90);
    }
    o.append(au.substr(pos, chunk));
    pos += chunk;
    first = false;
  } while (pos < au.size());
  return o;
}

std::vector<std::string> RtpPacketizer::packetize(std::string_view frame, std::uint32_t timestamp90) {
  std::vector<std::string> out;
  size_t pos = 0;
  do {
    size_t chunk = std::min(frame.size() - pos, max_payload_);
    bool last = pos + chunk >= frame.size();
    std::string p;
    p.reserve(12 + chunk);
    p += static_cast<char>(0x80);
    p += static_cast<char>((last ? 0x80 : 0) | (pt_ & 0x7F));
    p += static_cast<char>(seq_ >> 8);
    p += static_cast<char>(seq_ & 0xFF);
    for (int s = 24; s >= 0; s -= 8) p += static_cast<char>((timestamp90 >> s) & 0xFF);
    for (int s = 24; s >= 0; s -= 8) p += static_cast<char>((ssrc_ >> s) & 0xFF);
    p.append(frame.substr(pos, chunk));
    ++seq_;
    pos += chunk;
    out.push_back(std::move(p));
  } while (pos < frame.size());
  return out;
}

std::string rfc4571_frame(std::string_view packet) {
  std::string o;
  o.reserve(packet.size() + 2);
  put16(o, packet.size());
  o.append(packet);
  return o;
}

}  // namespace mingchu::sip
