// libFuzzer target: strict base64 and the FieldCipher text format built on it. Traps when
// decode accepts a text that encode would not produce (strictness), when encode/decode do
// not round-trip, or when a forged "sm4gcm1:" text decrypts under a fixed key.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crypto/base64.hpp"
#include "crypto/field_cipher.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  auto decoded = mingchu::crypto::base64_decode(in);
  if (decoded && mingchu::crypto::base64_encode(*decoded) != in) __builtin_trap();
  if (!decoded && decoded.error().code != "malformed_base64") __builtin_trap();

  auto back = mingchu::crypto::base64_decode(mingchu::crypto::base64_encode(in));
  if (!back || *back != in) __builtin_trap();

  static const auto kCipher = mingchu::crypto::FieldCipher::from_key("0123456789abcdef").value();
  if (kCipher.decrypt(in)) __builtin_trap();  // nobody forges a GCM tag
  return 0;
}
