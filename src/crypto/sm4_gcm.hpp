// SM4-GCM authenticated encryption (SM4 block cipher, GB/T 32907-2016, in Galois/Counter Mode,
// NIST SP 800-38D; the combination RFC 8998 names for TLS). OpenSSL 3.0 offers SM4-ECB but not
// SM4-GCM, so GHASH and GCTR are implemented here over OpenSSL's SM4 block function.
//
// Parameters are fixed to the common profile: 16-byte key, 12-byte IV (J0 = IV || 0^31 || 1),
// 16-byte tag. The caller must never encrypt two messages with the same key and IV; use a
// random IV per message (FieldCipher does) and rotate keys long before 2^32 messages.
//
// Pure functions, safe from any thread. GHASH multiplies bit by bit with masks rather than
// lookup tables, so its timing does not depend on the key or data. That costs speed: about
// 48 MB/s, or 1.7 us for an 18-byte field, on the 2-core development VM — it is meant for
// fields and small documents, not video.
// Failure: a key, IV or tag of the wrong size is a kInvalid error ("invalid_key_size",
// "invalid_iv_size", "invalid_tag_size"); a plaintext over the GCM limit (2^36 - 32 bytes) is
// kTooLarge; on decryption a tag that does not match (wrong key, altered ciphertext, tag or
// AAD) is kInvalid "authentication_failed" and no plaintext is released. The tag is compared
// in constant time. An OpenSSL failure (no SM4 in the provider) throws std::runtime_error.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace mingchu::crypto {

inline constexpr size_t kSm4KeyBytes = 16;
inline constexpr size_t kGcmIvBytes = 12;
inline constexpr size_t kGcmTagBytes = 16;

struct Sm4GcmSealed {
  std::string ciphertext;  // same length as the plaintext
  std::string tag;         // kGcmTagBytes
};

Result<Sm4GcmSealed> sm4_gcm_encrypt(std::string_view key, std::string_view iv, std::string_view plaintext,
                                     std::string_view aad = {});

Result<std::string> sm4_gcm_decrypt(std::string_view key, std::string_view iv, std::string_view ciphertext,
                                    std::string_view tag, std::string_view aad = {});

}  // namespace mingchu::crypto
