// Message digests and MACs: SM3 (GB/T 32905-2016, the audit chain and file fingerprints),
// SHA-256 (content addresses) and HMAC-SHA256 (blind indexes, webhook signatures).
// All computed by OpenSSL 3 (algorithms fetched once with EVP_MD_fetch and kept).
//
// The free functions are safe from any thread. A streaming Sm3/Sha256 object belongs to one
// thread at a time; it may be moved, not copied (a moved-from object may only be destroyed or
// assigned to). After final_*() it is reset and can hash a new message. Results are lowercase
// hex (final_bytes: the raw 32-byte digest).
// Failure: only if OpenSSL lacks the algorithm (a broken installation, e.g. a FIPS-only
// provider) — that throws std::runtime_error, it is never an expected error.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace mingchu::crypto {

inline constexpr size_t kDigestBytes = 32;  // SM3 and SHA-256 both have 256-bit digests

std::string sm3_hex(std::string_view data);
std::string sha256_hex(std::string_view data);
// HMAC-SHA256 (RFC 2104) of data under key, as lowercase hex or as 32 raw bytes.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);
// Compares two byte strings in time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

namespace detail {
enum class DigestAlgorithm { kSm3, kSha256 };

// One digest computation (an EVP_MD_CTX) of a fixed algorithm.
class Digest {
 public:
  explicit Digest(DigestAlgorithm algorithm);
  Digest(Digest&&) noexcept;
  Digest& operator=(Digest&&) noexcept;
  ~Digest();

  void update(std::string_view data);
  std::string final_bytes();
  std::string final_hex();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};
}  // namespace detail

// Streaming SM3: update() any number of times, then final_hex().
class Sm3 : public detail::Digest {
 public:
  Sm3() : Digest(detail::DigestAlgorithm::kSm3) {}
};

// Streaming SHA-256: update() any number of times, then final_hex().
class Sha256 : public detail::Digest {
 public:
  Sha256() : Digest(detail::DigestAlgorithm::kSha256) {}
};

}  // namespace mingchu::crypto
