// Encryption of personal fields at rest (id numbers, phone numbers of staff and operators):
// SM4-GCM under one 16-byte field key, each value with a fresh random 96-bit IV, written as
// text "sm4gcm1:" + base64(iv || ciphertext || tag) so it fits any TEXT column.
// blind_index() gives a deterministic keyed digest of a value, so an encrypted column can
// still be searched for equality (store both; look up by the index).
//
// Ownership: a FieldCipher owns a copy of its key and wipes it when destroyed. The key is
// never written to a log or an error message. Thread safety: every method is const and
// safe to call from any number of threads at once.
// Failure: decrypt() returns kMalformed "malformed_ciphertext" for text that is not in the
// format above, and kInvalid "authentication_failed" when the key or the context differ or
// the text was altered. load_or_create() returns kInvalid "malformed_key_file" for a key file
// that is not exactly 32 hex characters (one trailing newline allowed) and kInternal for OS
// errors. Only a failing OS random generator or an OpenSSL without SM4 throws
// (std::runtime_error).
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace mingchu::crypto {

inline constexpr std::string_view kFieldCipherPrefix = "sm4gcm1:";

class FieldCipher {
 public:
  // key: kSm4KeyBytes (16) raw bytes; kInvalid "invalid_key_size" otherwise.
  static Result<FieldCipher> from_key(std::string_view key);

  // Loads the key stored as 32 hex characters in key_file_path, or, when the file does not
  // exist, makes a random key and creates the file (mode 0600, missing parent directories
  // created) atomically: written to a temporary file, fsynced, then linked into place
  // without replacing a file another process created meanwhile (whose key then wins), and
  // the directory fsynced. A malformed existing file is refused, never overwritten.
  static Result<FieldCipher> load_or_create(const std::string& key_file_path);

  FieldCipher(const FieldCipher&) = default;
  FieldCipher& operator=(const FieldCipher&) = default;
  ~FieldCipher();

  // context is optional associated data naming where the value lives (e.g.
  // "staff.id_number"): a value moved to another column with another context no longer
  // decrypts. decrypt() must be given the same context as encrypt().
  std::string encrypt(std::string_view plaintext, std::string_view context = {}) const;
  Result<std::string> decrypt(std::string_view text, std::string_view context = {}) const;

  // 64 lowercase hex chars: HMAC-SHA256 of value under a key derived from the field key
  // (HMAC-SHA256(field key, "mingchu/blind-index/v1" || 0x01), i.e. an HKDF-Expand step), so
  // the index reveals nothing that decrypts. Equal values give equal indexes; normalise the
  // value (case, spaces) before calling.
  std::string blind_index(std::string_view value) const;

  // True when text has the prefix this class writes (not a proof that it decrypts).
  static bool looks_encrypted(std::string_view text);

 private:
  FieldCipher() = default;

  std::array<unsigned char, 16> key_{};
  std::array<unsigned char, 32> index_key_{};
};

}  // namespace mingchu::crypto
