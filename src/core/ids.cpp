#include "core/ids.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <stdexcept>

namespace mingchu {

std::string to_hex(std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

static std::string random_bytes(size_t n) {
  std::string b(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(b.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return b;
}

std::string random_hex(size_t n_bytes) { return to_hex(random_bytes(n_bytes)); }

std::string random_token(size_t n_bytes) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string b = random_bytes(n_bytes);
  std::string out;
  out.reserve(n_bytes);
  for (unsigned char c : b) out.push_back(kAlphabet[c & 63]);
  return out;
}

std::string new_id(std::string_view prefix) {
  std::string id(prefix);
  id.push_back('_');
  id += random_hex(8);
  return id;
}

bool plausible_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!okc) return false;
  }
  return true;
}

std::string quick_random_hex(size_t n_bytes) {
  thread_local std::uint64_t state = std::stoull(random_hex(8), nullptr, 16);
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * std::min<size_t>(n_bytes, 8), '0');
  for (size_t i = 0; i < out.size(); ++i) out[i] = kHex[(z >> (4 * i)) & 0xf];
  return out;
}

std::string ordered_id(std::string_view prefix, std::int64_t now_ms) {
  char t[16];
  std::snprintf(t, sizeof t, "_%011llx", static_cast<unsigned long long>(now_ms) & 0xfffffffffffULL);
  return std::string(prefix) + t + quick_random_hex(4);
}

}  // namespace mingchu
