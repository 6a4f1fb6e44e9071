#include "video/media_token.hpp"

#include <vector>

#include "core/ids.hpp"
#include "core/validate.hpp"
#include "crypto/sm3.hpp"

namespace mingchu::video {
namespace {

Error forbidden_token(std::string why) { return {ErrorKind::kForbidden, "invalid_media_token", std::move(why), {}}; }

std::optional<std::string> from_hex(std::string_view h) {
  if (h.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(h.size() / 2);
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < h.size(); i += 2) {
    int a = nib(h[i]), b = nib(h[i + 1]);
    if (a < 0 || b < 0) return std::nullopt;
    out.push_back(static_cast<char>(a * 16 + b));
  }
  return out;
}

std::optional<std::int64_t> to_int(const std::string& s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

std::string MediaTokens::issue(const MediaGrant& g) const {
  std::string body = g.kind + "~" + g.camera_id + "~" + g.quality + "~" + std::to_string(g.from) + "~" +
                     std::to_string(g.to) + "~" + g.clip_id + "~" + std::to_string(g.expires_at);
  std::string mac = crypto::hmac_sha256(key_, body).substr(0, 16);
  return to_hex(body) + "." + to_hex(mac);
}

Result<MediaGrant> MediaTokens::verify(const std::string& token, std::int64_t now_ms) const {
  if (token.size() > 1024) return forbidden_token("the media token is too long");
  size_t dot = token.find('.');
  if (dot == std::string::npos) return forbidden_token("malformed media token");
  auto body = from_hex(std::string_view(token).substr(0, dot));
  auto mac = from_hex(std::string_view(token).substr(dot + 1));
  if (!body || !mac || mac->size() != 16) return forbidden_token("malformed media token");
  if (!crypto::constant_time_equal(*mac, crypto::hmac_sha256(key_, *body).substr(0, 16))) {
    return forbidden_token("the media token's signature does not match");
  }
  std::vector<std::string> f;
  size_t start = 0;
  for (;;) {
    size_t t = body->find('~', start);
    f.push_back(body->substr(start, t == std::string::npos ? std::string::npos : t - start));
    if (t == std::string::npos) break;
    start = t + 1;
  }
  if (f.size() != 7) return forbidden_token("malformed media token");
  MediaGrant g;
  g.kind = f[0];
  g.camera_id = f[1];
  g.quality = f[2];
  auto from = to_int(f[3]), to = to_int(f[4]), exp = to_int(f[6]);
  if (!from || !to || !exp) return forbidden_token("malformed media token");
  g.from = *from;
  g.to = *to;
  g.clip_id = f[5];
  g.expires_at = *exp;
  if (g.expires_at <= now_ms) return forbidden_token("the media token has expired");
  return g;
}

}  // namespace mingchu::video
