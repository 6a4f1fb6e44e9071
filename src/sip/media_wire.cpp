#include "sip/media_wire.hpp"

#include <algorithm>
#include <cstdio>

namespace mingchu::sip {
namespace {

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

std::int64_t read_ts(const std::uint8_t* p) {
  return (static_cast<std::int64_t>(p[0] & 0x0E) << 29) | (static_cast<std::int64_t>(p[1]) << 22) |
         (static_cast<std::int64_t>(p[2] & 0xFE) << 14) | (static_cast<std::int64_t>(p[3]) << 7) |
         (static_cast<std::int64_t>(p[4]) >> 1);
}

void write_ts(std::string& o, int prefix, std::int64_t ts) {
  o += static_cast<char>((prefix << 4) | (((ts >> 30) & 7) << 1) | 1);
  o += static_cast<char>((ts >> 22) & 0xFF);
  o += static_cast<char>((((ts >> 15) & 0x7F) << 1) | 1);
  o += static_cast<char>((ts >> 7) & 0xFF);
  o += static_cast<char>(((ts & 0x7F) << 1) | 1);
}

// Calls f(nal_start, nal_size) for each NAL unit of an Annex B buffer; stops when f returns false.
template <typename F>
void for_each_nal(std::string_view au, F f) {
  size_t i = 0, n = au.size();
  auto next_start = [&](size_t from) -> size_t {
    for (size_t k = from; k + 2 < n; ++k) {
      if (au[k] == 0 && au[k + 1] == 0 && au[k + 2] == 1) return k;
    }
    return n;
  };
  i = next_start(0);
  while (i < n) {
    size_t s = i + 3;
    size_t e = next_start(s);
    size_t end = e;
    while (end > s && au[end - 1] == 0) --end;  // trailing zero of a 4-byte start code
    if (end > s && !f(s, end - s)) return;
    i = e;
  }
}

}  // namespace

std::optional<RtpPacket> parse_rtp(const std::uint8_t* p, size_t n) {
  if (n < 12 || (p[0] >> 6) != 2) return std::nullopt;
  RtpPacket r;
  size_t cc = p[0] & 0x0F;
  bool ext = (p[0] & 0x10) != 0;
  bool pad = (p[0] & 0x20) != 0;
  r.marker = (p[1] & 0x80) != 0;
  r.payload_type = p[1] & 0x7F;
  r.seq = be16(p + 2);
  r.timestamp = static_cast<std::uint32_t>(p[4]) << 24 | static_cast<std::uint32_t>(p[5]) << 16 |
                static_cast<std::uint32_t>(p[6]) << 8 | p[7];
  r.ssrc = static_cast<std::uint32_t>(p[8]) << 24 | static_cast<std::uint32_t>(p[9]) << 16 |
           static_cast<std::uint32_t>(p[10]) << 8 | p[11];
  size_t off = 12 + 4 * cc;
  if (off > n) return std::nullopt;
  if (ext) {
    if (off + 4 > n) return std::nullopt;
    off += 4 + 4 * static_cast<size_t>(be16(p + off + 2));
    if (off > n) return std::nullopt;
  }
  size_t end = n;
  if (pad) {
    size_t padding = p[n - 1];
    if (padding == 0 || off + padding > end) return std::nullopt;
    end -= padding;
  }
  if (end <= off) return std::nullopt;
  r.payload = p + off;
  r.payload_size = end - off;
  return r;
}

void PsDemuxer::reset() {
  buf_.clear();
  cur_ = PsFrame{};
}

void PsDemuxer::push(const std::uint8_t* p, size_t n, std::vector<PsFrame>& out) {
  if (buf_.size() + n > kMaxBuffer) {
    ++errors_;
    buf_.clear();
    cur_ = PsFrame{};
  }
  buf_.append(reinterpret_cast<const char*>(p), n);
  parse(out);
}

void PsDemuxer::end_of_frame(std::vector<PsFrame>& out) {
  parse(out);
  // a PES cut short by the end of the frame stays in buf_ (it may continue); a complete frame goes
  bool partial = buf_.size() >= 4 && buf_[0] == 0 && buf_[1] == 0 && buf_[2] == 1;
  if (!cur_.data.empty() && !partial) emit(out);
}

void PsDemuxer::emit(std::vector<PsFrame>& out) {
  if (cur_.data.empty()) return;
  int type = psm_type_;
  if (type != kStreamH264 && type != kStreamH265) type = sniff_video_codec(cur_.data);
  if (type == 0) {
    ++errors_;  // not H.264 or H.265: dropped
  } else {
    cur_.stream_type = type;
    cur_.key = is_keyframe(cur_.data, type == kStreamH265);
    out.push_back(std::move(cur_));
  }
  cur_ = PsFrame{};
}

void PsDemuxer::parse(std::vector<PsFrame>& out) {
  const auto* b = reinterpret_cast<const std::uint8_t*>(buf_.data());
  size_t n = buf_.size(), i = 0;
  while (true) {
    // find a start code
    size_t k = i;
    while (k + 3 < n && !(b[k] == 0 && b[k + 1] == 0 && b[k + 2] == 1)) ++k;
    if (k + 3 >= n) {
      // keep the last bytes: a start code may straddle the pieces
      size_t keep = std::min<size_t>(n - i, 3);
      if (n - i > keep) ++errors_;
      i = n - keep;
      break;
    }
    if (k != i) ++errors_;
    i = k;
    std::uint8_t code = b[i + 3];
    size_t len = 0;
    if (code == 0xBA) {
      if (n - i < 14) break;
      if ((b[i + 4] >> 6) == 1) {
        len = 14 + (b[i + 13] & 7);
      } else if ((b[i + 4] >> 4) == 2) {
        len = 12;  // MPEG-1 pack
      } else {
        ++errors_;
        i += 4;
        continue;
      }
      if (n - i < len) break;
      emit(out);  // a new pack: the previous frame is complete
      i += len;
      continue;
    }
    if (code == 0xB9) {
      i += 4;
      continue;
    }
    if (code < 0xBB) {  // not a system start code: garbage (or a NAL start code out of a PES)
      ++errors_;
      i += 3;
      continue;
    }
    if (n - i < 6) break;
    len = 6 + be16(b + i + 4);
    if (n - i < len) break;
    const std::uint8_t* pk = b + i;
    if (code == 0xBC && len >= 12) {
      size_t info = be16(pk + 8);
      size_t pos = 10 + info;
      if (pos + 2 <= len) {
        size_t map_len = be16(pk + pos);
        pos += 2;
        size_t end = std::min(len - 4, pos + map_len);  // CRC at the end
        while (pos + 4 <= end) {
          int type = pk[pos];
          int id = pk[pos + 1];
          size_t il = be16(pk + pos + 2);
          if (id >= 0xE0 && id <= 0xEF) psm_type_ = type;
          pos += 4 + il;
        }
      }
    } else if (code >= 0xE0 && code <= 0xEF && len >= 9) {
      size_t hdr = 9 + pk[8];
      if ((pk[6] >> 6) != 2 || hdr > len) {
        ++errors_;
      } else {
        std::int64_t pts = -1, dts = -1;
        int flags = pk[7] >> 6;
        if ((flags & 2) && pk[8] >= 5) pts = read_ts(pk + 9);
        if (flags == 3 && pk[8] >= 10) dts = read_ts(pk + 14);
        if (pts >= 0 && !cur_.data.empty() && pts != cur_.pts90) emit(out);
        if (cur_.data.empty() && pts >= 0) {
          cur_.pts90 = pts;
          cur_.dts90 = dts >= 0 ? dts : pts;
        }
        if (cur_.data.size() + (len - hdr) > kMaxFrame) {
          ++errors_;
          cur_ = PsFrame{};
        } else {
          cur_.data.append(reinterpret_cast<const char*>(pk + hdr), len - hdr);
        }
      }
    }
    i += len;
  }
  buf_.erase(0, i);
}

int sniff_video_codec(std::string_view au) {
  int type = 0;
  for_each_nal(au, [&](size_t s, size_t len) {
    auto h = static_cast<std::uint8_t>(au[s]);
    if (h & 0x80) return false;  // forbidden bit
    int t264 = h & 0x1F;
    int t265 = (h >> 1) & 0x3F;
    bool hevc_like = len >= 2 && static_cast<std::uint8_t>(au[s + 1]) == 0x01 &&
                     (t265 == 32 || t265 == 33 || t265 == 34 || t265 == 35 || t265 == 39 || t265 == 19 || t265 == 20 ||
                      t265 == 1 || t265 == 21);
    if (hevc_like) {
      type = kStreamH265;
    } else if (t264 >= 1 && t264 <= 12) {
      type = kStreamH264;
    }
    return false;
  });
  return type;
}

bool is_keyframe(std::string_view au, bool hevc) {
  bool key = false;
  for_each_nal(au, [&](size_t s, size_t) {
    auto h = static_cast<std::uint8_t>(au[s]);
    if (hevc) {
      int t = (h >> 1) & 0x3F;
      if (t >= 16 && t <= 21) key = true;
    } else if ((h & 0x1F) == 5) {
      key = true;
    }
    return !key;
  });
  return key;
}

std::string parameter_sets(std::string_view au, bool hevc) {
  std::string out;
  for_each_nal(au, [&](size_t s, size_t len) {
    auto h = static_cast<std::uint8_t>(au[s]);
    bool ps = hevc ? (((h >> 1) & 0x3F) >= 32 && ((h >> 1) & 0x3F) <= 34) : ((h & 0x1F) == 7 || (h & 0x1F) == 8);
    if (ps) {
      out.append("\0\0\0\1", 4);
      out.append(au.substr(s, len));
    }
    return true;
  });
  return out;
}

std::string ptz_command(PtzAction a, int speed, int preset) {
  speed = std::clamp(speed, 0, 255);
  preset = std::clamp(preset, 0, 255);
  std::uint8_t b[8] = {0xA5, 0x0F, 0x01, 0, 0, 0, 0, 0};
  int zoom = std::min(speed >> 4, 15);
  switch (a) {
    case PtzAction::kStop:
      break;
    case PtzAction::kRight:
      b[3] = 0x01;
      b[4] = static_cast<std::uint8_t>(speed);
      break;
    case PtzAction::kLeft:
      b[3] = 0x02;
      b[4] = static_cast<std::uint8_t>(speed);
      break;
    case PtzAction::kDown:
      b[3] = 0x04;
      b[5] = static_cast<std::uint8_t>(speed);
      break;
    case PtzAction::kUp:
      b[3] = 0x08;
      b[5] = static_cast<std::uint8_t>(speed);
      break;
    case PtzAction::kZoomIn:
      b[3] = 0x10;
      b[6] = static_cast<std::uint8_t>(zoom << 4);
      break;
    case PtzAction::kZoomOut:
      b[3] = 0x20;
      b[6] = static_cast<std::uint8_t>(zoom << 4);
      break;
    case PtzAction::kPresetSet:
      b[3] = 0x81;
      b[5] = static_cast<std::uint8_t>(preset);
      break;
    case PtzAction::kPresetCall:
      b[3] = 0x82;
      b[5] = static_cast<std::uint8_t>(preset);
      break;
    case PtzAction::kPresetDelete:
      b[3] = 0x83;
      b[5] = static_cast<std::uint8_t>(preset);
      break;
  }
  unsigned sum = 0;
  for (int i = 0; i < 7; ++i) sum += b[i];
  b[7] = static_cast<std::uint8_t>(sum & 0xFF);
  char hex[17];
  for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02X", b[i]);
  return std::string(hex, 16);
}

std::string ps_pack(std::string_view au, std::int64_t pts90, bool key, int stream_type, bool with_psm) {
  std::string o;
  // pack header (MPEG-2), SCR = pts
  std::int64_t scr = pts90;
  o.append("\0\0\1\xBA", 4);
  o += static_cast<char>(0x44 | (((scr >> 30) & 7) << 3) | ((scr >> 28) & 3));
  o += static_cast<char>((scr >> 20) & 0xFF);
  o += static_cast<char>(((scr >> 12) & 0xF8) | 0x04 | ((scr >> 13) & 3));
  o += static_cast<char>((scr >> 5) & 0xFF);
  o += static_cast<char>(((scr & 0x1F) << 3) | 0x04);
  o += static_cast<char>(0x01);
  o.append("\x01\x89\xC3\xF8", 4);  // mux rate, stuffing 0
  if (key && with_psm) {
    // system header
    const char sys[] = "\0\0\1\xBB\0\x0C\x80\xCC\xF5\x04\xE1\x7F\xE0\xE0\xE8\xC0\xC0\x20";
    o.append(sys, 18);
    // PSM with one video stream
    std::string m;
    m.append("\0\0\1\xBC", 4);
    std::string body;
    body += static_cast<char>(0xE0);  // current, version
    body += static_cast<char>(0xFF);
    body.append("\0\0", 2);    // program stream info length
    body.append("\0\x04", 2);  // es map length
    body += static_cast<char>(stream_type);
    body += static_cast<char>(0xE0);
    body.append("\0\0", 2);
    body.append("\0\0\0\0", 4);  // CRC (not checked by readers)
    m += static_cast<char>((body.size() >> 8) & 0xFF);
    m += static_cast<char>(body.size() & 0xFF);
    o += m + body;
  }
  size_t pos = 0;
  bool first = true;
  while (pos < au.size()) {
    size_t chunk = std::min<size_t>(au.size() - pos, 65000);
    size_t hdr = first ? 5 : 0;
    size_t plen = 3 + hdr + chunk;
    o.append("\0\0\1\xE0", 4);
    o += static_cast<char>((plen >> 8) & 0xFF);
    o += static_cast<char>(plen & 0xFF);
    o += static_cast<char>(0x80);
    o += static_cast<char>(first ? 0x80 : 0x00);
    o += static_cast<char>(hdr);
    if (first) write_ts(o, 2, pts90);
    o.append(au.substr(pos, chunk));
    pos += chunk;
    first = false;
  }
  return o;
}

}  // namespace mingchu::sip
