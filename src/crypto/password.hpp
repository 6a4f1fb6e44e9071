// Password hashing with Argon2id (libsodium's crypto_pwhash_str_alg): the stored text is
// the self-describing "$argon2id$v=19$m=...,t=...,p=1$salt$hash" string, so the cost can be
// raised later and old hashes still verify.
//
// Thread safety: all functions may be called from any thread; libsodium is initialised once
// (std::call_once) on first use. Hashing at interactive() cost takes ~64 MiB of memory and
// tens of milliseconds of CPU: callers bound how many run at once.
// Failure: hash_password throws std::runtime_error only if libsodium cannot initialise or
// allocate the memory cost; verify_password answers false for a wrong password and for any
// stored text that is not a well-formed Argon2 hash — it never throws on bad input.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mingchu::crypto {

struct PasswordCost {
  unsigned long long ops_limit = 0;
  std::size_t mem_limit = 0;  // bytes

  // libsodium's OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE for Argon2id: for logins.
  static PasswordCost interactive();
  // The minimum Argon2id accepts: fast, for tests only. Never for real passwords.
  static PasswordCost for_tests();
};

std::string hash_password(std::string_view password, PasswordCost cost);
bool verify_password(std::string_view stored, std::string_view password);
// True when stored was made with a different cost or algorithm than cost (time to rehash
// after a successful login), or is not a hash at all.
bool password_needs_rehash(std::string_view stored, PasswordCost cost);

}  // namespace mingchu::crypto
