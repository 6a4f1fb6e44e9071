#include "crypto/password.hpp"

#include <sodium.h>

#include <mutex>
#include <stdexcept>

namespace mingchu::crypto {
namespace {

void ensure_sodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  });
}

// libsodium wants NUL-terminated hash text; refuse anything that could not be one.
bool plausible_hash_text(std::string_view stored) {
  return !stored.empty() && stored.size() < crypto_pwhash_STRBYTES && stored.find('\0') == std::string_view::npos;
}

// An empty string_view may carry a null pointer; libsodium is not promised to accept one.
const char* non_null(std::string_view s) { return s.empty() ? "" : s.data(); }

}  // namespace

PasswordCost PasswordCost::interactive() {
  return {crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE, crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE};
}

PasswordCost PasswordCost::for_tests() {
  return {crypto_pwhash_argon2id_OPSLIMIT_MIN, crypto_pwhash_argon2id_MEMLIMIT_MIN};
}

std::string hash_password(std::string_view password, PasswordCost cost) {
  ensure_sodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, non_null(password), password.size(), cost.ops_limit, cost.mem_limit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("Argon2id hashing failed (out of memory, or cost outside libsodium's limits)");
  }
  return std::string(out);
}

bool verify_password(std::string_view stored, std::string_view password) {
  ensure_sodium();
  if (!plausible_hash_text(stored)) return false;
  std::string text(stored);
  return crypto_pwhash_str_verify(text.c_str(), non_null(password), password.size()) == 0;
}

bool password_needs_rehash(std::string_view stored, PasswordCost cost) {
  ensure_sodium();
  if (!plausible_hash_text(stored)) return true;
  std::string text(stored);
  if (text.rfind("$argon2id$", 0) != 0) return true;
  return crypto_pwhash_str_needs_rehash(text.c_str(), cost.ops_limit, cost.mem_limit) != 0;
}

}  // namespace mingchu::crypto
