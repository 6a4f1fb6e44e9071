#include "crypto/sm3.hpp"

#include <climits>
#include <stdexcept>
#include <string>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/ids.hpp"

namespace mingchu::crypto {
namespace {

// Fetched once per algorithm and kept for the life of the process: fetching costs a lock
// and a lookup in the provider store on every call otherwise.
using detail::DigestAlgorithm;

const EVP_MD* fetch(DigestAlgorithm algorithm) {
  static const EVP_MD* const kSm3 = EVP_MD_fetch(nullptr, "SM3", nullptr);
  static const EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  const EVP_MD* md = algorithm == DigestAlgorithm::kSm3 ? kSm3 : kSha256;
  if (md == nullptr) {
    throw std::runtime_error(std::string("OpenSSL does not provide digest ") +
                             (algorithm == DigestAlgorithm::kSm3 ? "SM3" : "SHA256"));
  }
  return md;
}

void check(int rc, const char* what) {
  if (rc != 1) throw std::runtime_error(std::string("OpenSSL ") + what + " failed");
}

std::string one_shot(DigestAlgorithm algorithm, std::string_view data) {
  detail::Digest d(algorithm);
  d.update(data);
  return d.final_hex();
}

}  // namespace

namespace detail {

struct Digest::Impl {
  const EVP_MD* md = nullptr;
  EVP_MD_CTX* ctx = nullptr;
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Digest::Digest(DigestAlgorithm algorithm) : impl_(std::make_unique<Impl>()) {
  impl_->md = fetch(algorithm);
  impl_->ctx = EVP_MD_CTX_new();
  if (impl_->ctx == nullptr) throw std::bad_alloc();
  check(EVP_DigestInit_ex2(impl_->ctx, impl_->md, nullptr), "EVP_DigestInit_ex2");
}

Digest::Digest(Digest&&) noexcept = default;
Digest& Digest::operator=(Digest&&) noexcept = default;
Digest::~Digest() = default;

void Digest::update(std::string_view data) {
  check(EVP_DigestUpdate(impl_->ctx, data.data(), data.size()), "EVP_DigestUpdate");
}

std::string Digest::final_bytes() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  check(EVP_DigestFinal_ex(impl_->ctx, out, &len), "EVP_DigestFinal_ex");
  check(EVP_DigestInit_ex2(impl_->ctx, impl_->md, nullptr), "EVP_DigestInit_ex2");
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string Digest::final_hex() { return to_hex(final_bytes()); }

}  // namespace detail

std::string sm3_hex(std::string_view data) { return one_shot(DigestAlgorithm::kSm3, data); }

std::string sha256_hex(std::string_view data) { return one_shot(DigestAlgorithm::kSha256, data); }

std::string hmac_sha256(std::string_view key, std::string_view data) {
  if (key.size() > static_cast<size_t>(INT_MAX)) throw std::length_error("HMAC key too long");
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // HMAC() rejects a null key pointer even with length 0; an empty key is legal in RFC 2104.
  static const unsigned char kEmpty = 0;
  const void* key_ptr = key.empty() ? static_cast<const void*>(&kEmpty) : key.data();
  const auto* data_ptr = data.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(data.data());
  if (HMAC(fetch(DigestAlgorithm::kSha256), key_ptr, static_cast<int>(key.size()), data_ptr, data.size(), out, &len) ==
      nullptr) {
    throw std::runtime_error("OpenSSL HMAC failed");
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) { return to_hex(hmac_sha256(key, data)); }

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace mingchu::crypto
