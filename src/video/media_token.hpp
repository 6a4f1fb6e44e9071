// Signed media tokens: the path element of /media/... URLs that lets a <video> element, hls.js or
// mpegts.js fetch live and recorded video without an Authorization header. A token names what it
// opens (kind, camera, quality or time range or clip) and when it expires, and carries an
// HMAC-SHA256 under a key shared by all nodes (table video_state). It is issued only after the
// caller's scope was checked, so holding a valid token is the permission.
//
// Format (URL-safe): hex(fields joined by '~') '.' hex(first 16 bytes of the MAC).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/result.hpp"

namespace mingchu::video {

struct MediaGrant {
  std::string kind;       // live | vod | clip
  std::string camera_id;
  std::string quality;    // live: hd | sd
  std::int64_t from = 0;  // vod: range (epoch ms)
  std::int64_t to = 0;
  std::string clip_id;    // clip
  std::int64_t expires_at = 0;  // epoch ms
};

class MediaTokens {
 public:
  explicit MediaTokens(std::string key) : key_(std::move(key)) {}
  std::string issue(const MediaGrant& g) const;
  // 403-style Error when malformed, forged or expired.
  Result<MediaGrant> verify(const std::string& token, std::int64_t now_ms) const;

 private:
  std::string key_;
};

}  // namespace mingchu::video
