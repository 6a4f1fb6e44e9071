// The PS muxer and RTP packetizer of the cascade (ps_mux.hpp): what they write, cut into RTP
// packets and fed to the platform's own demuxer (media_wire.hpp) piece by piece, gives back the
// same access units with their PTS, DTS, keyframe flag and codec; the PSM's CRC checks; RTP
// sequence numbers, timestamps and markers are as RFC 3550 and GB/T 28181 have them.
#include "sip/ps_mux.hpp"

#include <gtest/gtest.h>

#include "sip/media_wire.hpp"

namespace mingchu::sip {
namespace {

std::string au264(bool key, size_t size, int salt) {
  std::string au = std::string("\0\0\0\1\x09\xF0", 6);
  if (key) {
    au += std::string("\0\0\0\1\x67\x64\x00\x1F\xAC", 9);
    au += std::string("\0\0\0\1\x68\xEE\x3C\x80", 8);
    au += std::string("\0\0\1\x65\x88", 5);
  } else {
    au += std::string("\0\0\1\x41\x9A", 5);
  }
  // payload bytes without start codes (no 00 00 0x sequences)
  while (au.size() < size) au += static_cast<char>(0x20 + (au.size() * 7 + salt) % 200);
  return au;
}

struct Sent {
  std::string au;
  std::int64_t pts, dts;
  bool key;
};

std::vector<PsFrame> roundtrip(int stream_type, const std::vector<Sent>& in, std::uint32_t ssrc,
                               std::vector<std::string>* packets_out = nullptr, std::uint64_t* errors = nullptr,
                               int* psm = nullptr) {
  PsMuxer mux(stream_type);
  RtpPacketizer rtp(ssrc);
  PsDemuxer demux;
  std::vector<PsFrame> out;
  for (const auto& s : in) {
    std::string ps = mux.mux(s.au, s.pts, s.dts, s.key);
    auto packets = rtp.packetize(ps, static_cast<std::uint32_t>(s.pts));
    for (const auto& p : packets) {
      auto r = parse_rtp(reinterpret_cast<const std::uint8_t*>(p.data()), p.size());
      EXPECT_TRUE(r);
      if (!r) continue;
      EXPECT_EQ(r->ssrc, ssrc);
      EXPECT_EQ(r->payload_type, 96);
      EXPECT_EQ(r->timestamp, static_cast<std::uint32_t>(s.pts));
      demux.push(r->payload, r->payload_size, out);
      if (r->marker) demux.end_of_frame(out);
      if (packets_out) packets_out->push_back(p);
    }
  }
  if (errors) *errors = demux.errors();
  if (psm) *psm = demux.psm_stream_type();
  return out;
}

TEST(PsMux, H264FramesComeBackFromTheDemuxer) {
  std::vector<Sent> in;
  // I P B B P ... with B-frames (PTS != DTS), one frame over several PES packets
  for (int i = 0; i < 12; ++i) {
    bool key = i % 6 == 0;
    size_t size = i == 6 ? 200000 : 300 + 977 * i;
    std::int64_t dts = 90000 + 3600 * i;
    std::int64_t pts = dts + (i % 3 == 1 ? 7200 : 3600);
    in.push_back({au264(key, size, i), pts, dts, key});
  }
  std::vector<std::string> packets;
  std::uint64_t errors = 99;
  int psm = 0;
  auto out = roundtrip(kStreamH264, in, 0x01020304, &packets, &errors, &psm);
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].data, in[i].au) << i;
    EXPECT_EQ(out[i].pts90, in[i].pts) << i;
    EXPECT_EQ(out[i].dts90, in[i].dts) << i;
    EXPECT_EQ(out[i].key, in[i].key) << i;
    EXPECT_EQ(out[i].stream_type, kStreamH264);
  }
  EXPECT_EQ(errors, 0u);
  EXPECT_EQ(psm, kStreamH264);
  // RTP: consecutive sequence numbers, no packet over 12 + 1400 bytes, one marker per frame
  int markers = 0;
  for (size_t i = 0; i < packets.size(); ++i) {
    auto r = parse_rtp(reinterpret_cast<const std::uint8_t*>(packets[i].data()), packets[i].size());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->seq, static_cast<std::uint16_t>(i));
    EXPECT_LE(packets[i].size(), 1412u);
    markers += r->marker ? 1 : 0;
  }
  EXPECT_EQ(markers, 12);
}

TEST(PsMux, H265AndTimestampsPastThe33BitWrap) {
  std::string vps = std::string("\0\0\0\1\x40\x01\x0C\x01", 8), sps = std::string("\0\0\0\1\x42\x01\x01\x01", 8);
  std::string pps = std::string("\0\0\0\1\x44\x01\xC1\x72", 8);
  std::string idr = std::string("\0\0\0\1\x26\x01\xAF\x12\x34", 9), trail = std::string("\0\0\0\1\x02\x01\xD0\x55", 8);
  std::int64_t near_wrap = (std::int64_t{1} << 33) - 3600;
  std::vector<Sent> in = {{vps + sps + pps + idr, near_wrap, near_wrap, true},
                          {trail, near_wrap + 3600, near_wrap + 3600, false},
                          {trail + "\x77", near_wrap + 7200, near_wrap + 7200, false}};
  int psm = 0;
  std::uint64_t errors = 99;
  auto out = roundtrip(kStreamH265, in, 7, nullptr, &errors, &psm);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(psm, kStreamH265);
  EXPECT_EQ(errors, 0u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i].data, in[i].au);
    EXPECT_EQ(out[i].stream_type, kStreamH265);
    EXPECT_EQ(out[i].pts90, in[i].pts & ((std::int64_t{1} << 33) - 1));  // 33 bits on the wire
  }
  EXPECT_TRUE(out[0].key);
  EXPECT_FALSE(out[1].key);
}

TEST(PsMux, PacksCarryPsmWithAValidCrcOnKeyframesOnly) {
  PsMuxer mux(kStreamH264);
  std::string key = mux.mux(au264(true, 100, 1), 3600, 3600, true);
  std::string delta = mux.mux(au264(false, 100, 2), 7200, 7200, false);
  auto find = [](const std::string& s, const char* code) { return s.find(std::string("\0\0\1", 3) + code); };
  ASSERT_EQ(key.compare(0, 4, std::string("\0\0\1\xBA", 4)), 0);
  EXPECT_EQ(key.size() > 14 && (static_cast<std::uint8_t>(key[4]) >> 6) == 1, true);  // MPEG-2 pack
  size_t m = find(key, "\xBC");
  ASSERT_NE(m, std::string::npos);
  EXPECT_NE(find(key, "\xBB"), std::string::npos);
  size_t len = 6 + ((static_cast<std::uint8_t>(key[m + 4]) << 8) | static_cast<std::uint8_t>(key[m + 5]));
  // the CRC over the whole PSM, its own CRC included, leaves 0
  EXPECT_EQ(crc32_mpeg2(reinterpret_cast<const std::uint8_t*>(key.data() + m), len), 0u);
  EXPECT_EQ(find(delta, "\xBC"), std::string::npos);
  EXPECT_EQ(find(delta, "\xBB"), std::string::npos);
  // RFC 4571: a 16-bit length before the packet
  std::string f = rfc4571_frame("abc");
  EXPECT_EQ(f, std::string("\0\3abc", 5));
}

TEST(PsMux, AnEmptyUnitStillMakesAWellFormedPack) {
  PsMuxer mux(kStreamH264);
  RtpPacketizer rtp(1);
  std::string ps = mux.mux("", 0, 0, false);
  auto packets = rtp.packetize(ps, 0);
  ASSERT_EQ(packets.size(), 1u);
  PsDemuxer d;
  std::vector<PsFrame> out;
  auto r = parse_rtp(reinterpret_cast<const std::uint8_t*>(packets[0].data()), packets[0].size());
  ASSERT_TRUE(r);
  d.push(r->payload, r->payload_size, out);
  d.end_of_frame(out);
  EXPECT_TRUE(out.empty());  // nothing to give back, and nothing broken
  EXPECT_EQ(d.errors(), 0u);
}

}  // namespace
}  // namespace mingchu::sip
