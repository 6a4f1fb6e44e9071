// Media on the wire: RTP headers (RFC 3550), RFC 4571 framing (RTP over TCP), the MPEG-2
// program stream of GB/T 28181 (pack header, system header, PSM with stream types H.264 0x1B /
// H.265 0x24, PES), and the 8-byte PTZ command (GB/T 28181 §A.3).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mingchu::sip {

struct RtpPacket {
  std::uint8_t payload_type = 0;
  bool marker = false;
  std::uint16_t seq = 0;
  std::uint32_t timestamp = 0;
  std::uint32_t ssrc = 0;
  const std::uint8_t* payload = nullptr;
  size_t payload_size = 0;
};
// nullopt for anything that is not an RTP version 2 packet with a payload.
std::optional<RtpPacket> parse_rtp(const std::uint8_t* p, size_t n);

constexpr int kStreamH264 = 0x1B;
constexpr int kStreamH265 = 0x24;

// One video access unit (Annex B) out of the program stream.
struct PsFrame {
  std::string data;
  std::int64_t pts90 = -1;  // 33-bit 90 kHz, -1 when the PES had none
  std::int64_t dts90 = -1;
  int stream_type = 0;  // kStreamH264 / kStreamH265 (from the PSM or sniffed)
  bool key = false;
};

// Demuxes a program stream fed in arbitrary pieces (RTP payloads). Video PES of ids 0xE0-0xEF
// make frames; audio and private streams are skipped. A frame ends at a PES with another PTS,
// at a pack header after video data, or at end_of_frame() (the RTP marker bit).
class PsDemuxer {
 public:
  static constexpr size_t kMaxBuffer = 2u << 20;  // unparsed bytes; beyond, the buffer is dropped
  static constexpr size_t kMaxFrame = 8u << 20;

  void push(const std::uint8_t* p, size_t n, std::vector<PsFrame>& out);
  void end_of_frame(std::vector<PsFrame>& out);
  void reset();
  int psm_stream_type() const { return psm_type_; }
  std::uint64_t errors() const { return errors_; }  // skipped garbage, oversized frames

 private:
  void parse(std::vector<PsFrame>& out);
  void emit(std::vector<PsFrame>& out);

  std::string buf_;
  PsFrame cur_;
  int psm_type_ = 0;
  std::uint64_t errors_ = 0;
};

// 0x1B, 0x24 or 0 from the first NAL unit of an Annex B access unit.
int sniff_video_codec(std::string_view au);
bool is_keyframe(std::string_view au, bool hevc);
// The parameter sets (SPS/PPS, and VPS for H.265) of an access unit, in Annex B form.
std::string parameter_sets(std::string_view au, bool hevc);

// ---- PTZ
enum class PtzAction { kStop, kUp, kDown, kLeft, kRight, kZoomIn, kZoomOut, kPresetSet, kPresetCall, kPresetDelete };
// The 16 hex digits of the 8-byte PTZCmd: A5 0F 01, the instruction, data 1-3 (pan speed, tilt
// speed or preset, zoom speed << 4), checksum (the sum of bytes 1-7 modulo 256).
std::string ptz_command(PtzAction a, int speed, int preset = 0);

// ---- building a program stream (the device simulator of the tests and the benchmark)
std::string ps_pack(std::string_view au, std::int64_t pts90, bool key, int stream_type, bool with_psm);

}  // namespace mingchu::sip
