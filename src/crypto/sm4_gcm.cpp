#include "crypto/sm4_gcm.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto/sm3.hpp"

namespace mingchu::crypto {
namespace {

constexpr size_t kBlock = 16;
// GCM's limit on one message: 2^39 - 256 bits.
constexpr std::uint64_t kMaxPlaintextBytes = (std::uint64_t{1} << 36) - 32;
// Counter blocks encrypted per EVP call in GCTR.
constexpr size_t kBatchBlocks = 64;

using Block = std::array<unsigned char, kBlock>;

const EVP_CIPHER* sm4_ecb() {
  // Fetched once and kept: the lookup is costly and the object is immutable.
  static const EVP_CIPHER* const kCipher = EVP_CIPHER_fetch(nullptr, "SM4-ECB", nullptr);
  if (kCipher == nullptr) throw std::runtime_error("OpenSSL does not provide SM4-ECB");
  return kCipher;
}

// SM4 encryption of whole blocks under one key (the forward direction only: GCM never
// decrypts with the block cipher).
class Sm4Blocks {
 public:
  explicit Sm4Blocks(std::string_view key) : ctx_(EVP_CIPHER_CTX_new()) {
    if (ctx_ == nullptr) throw std::bad_alloc();
    if (EVP_EncryptInit_ex2(ctx_, sm4_ecb(), reinterpret_cast<const unsigned char*>(key.data()), nullptr, nullptr) !=
            1 ||
        EVP_CIPHER_CTX_set_padding(ctx_, 0) != 1) {
      EVP_CIPHER_CTX_free(ctx_);
      throw std::runtime_error("OpenSSL SM4-ECB init failed");
    }
  }
  ~Sm4Blocks() { EVP_CIPHER_CTX_free(ctx_); }
  Sm4Blocks(const Sm4Blocks&) = delete;
  Sm4Blocks& operator=(const Sm4Blocks&) = delete;

  void encrypt(const unsigned char* in, unsigned char* out, size_t n_blocks) {
    int len = 0;
    if (EVP_EncryptUpdate(ctx_, out, &len, in, static_cast<int>(n_blocks * kBlock)) != 1 ||
        static_cast<size_t>(len) != n_blocks * kBlock) {
      throw std::runtime_error("OpenSSL SM4-ECB encrypt failed");
    }
  }

 private:
  EVP_CIPHER_CTX* ctx_;
};

std::uint64_t load_be64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

void store_be64(unsigned char* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<unsigned char>(v & 0xFF);
    v >>= 8;
  }
}

// An element of GF(2^128) in GCM's bit order: hi holds bytes 0-7 big-endian, so bit 0 of the
// block (the coefficient of x^0) is the top bit of hi.
struct Gf128 {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
};

// X * Y per SP 800-38D Algorithm 1, without branches or table lookups on secret data.
Gf128 gf_mul(Gf128 x, Gf128 y) {
  Gf128 z;
  Gf128 v = y;
  for (int i = 0; i < 128; ++i) {
    std::uint64_t word = i < 64 ? x.hi : x.lo;
    std::uint64_t bit = (word >> (63 - (i & 63))) & 1;
    std::uint64_t take = 0 - bit;
    z.hi ^= v.hi & take;
    z.lo ^= v.lo & take;
    std::uint64_t reduce = 0 - (v.lo & 1);
    v.lo = (v.lo >> 1) | (v.hi << 63);
    v.hi = (v.hi >> 1) ^ (0xE100000000000000ULL & reduce);
  }
  return z;
}

class Ghash {
 public:
  explicit Ghash(const Block& h) : h_{load_be64(h.data()), load_be64(h.data() + 8)} {}
  ~Ghash() { OPENSSL_cleanse(&h_, sizeof h_); }
  Ghash(const Ghash&) = delete;
  Ghash& operator=(const Ghash&) = delete;

  // Absorbs data followed by zero padding to a whole block.
  void absorb_padded(std::string_view data) {
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    size_t n = data.size();
    while (n >= kBlock) {
      absorb_block(p);
      p += kBlock;
      n -= kBlock;
    }
    if (n > 0) {
      Block last{};
      std::memcpy(last.data(), p, n);
      absorb_block(last.data());
    }
  }

  void absorb_lengths(std::uint64_t aad_bytes, std::uint64_t text_bytes) {
    Block b;
    store_be64(b.data(), aad_bytes * 8);
    store_be64(b.data() + 8, text_bytes * 8);
    absorb_block(b.data());
  }

  Block result() const {
    Block b;
    store_be64(b.data(), y_.hi);
    store_be64(b.data() + 8, y_.lo);
    return b;
  }

 private:
  void absorb_block(const unsigned char* p) {
    y_.hi ^= load_be64(p);
    y_.lo ^= load_be64(p + 8);
    y_ = gf_mul(y_, h_);
  }

  Gf128 h_;
  Gf128 y_;
};

// GCTR with the counter starting at inc32(J0): out = in XOR E(K, CB_i). out may equal in.
void gctr(Sm4Blocks& sm4, const Block& j0, const unsigned char* in, unsigned char* out, size_t n) {
  std::array<unsigned char, kBatchBlocks * kBlock> counters;
  std::array<unsigned char, kBatchBlocks * kBlock> stream;
  std::uint32_t ctr = static_cast<std::uint32_t>(j0[12]) << 24 | static_cast<std::uint32_t>(j0[13]) << 16 |
                      static_cast<std::uint32_t>(j0[14]) << 8 | j0[15];
  size_t done = 0;
  while (done < n) {
    size_t chunk = std::min(n - done, counters.size());
    size_t blocks = (chunk + kBlock - 1) / kBlock;
    for (size_t b = 0; b < blocks; ++b) {
      ++ctr;  // inc32: only the low 32 bits count, wrapping modulo 2^32
      unsigned char* cb = counters.data() + b * kBlock;
      std::memcpy(cb, j0.data(), 12);
      cb[12] = static_cast<unsigned char>(ctr >> 24);
      cb[13] = static_cast<unsigned char>(ctr >> 16);
      cb[14] = static_cast<unsigned char>(ctr >> 8);
      cb[15] = static_cast<unsigned char>(ctr);
    }
    sm4.encrypt(counters.data(), stream.data(), blocks);
    for (size_t i = 0; i < chunk; ++i) out[done + i] = static_cast<unsigned char>(in[done + i] ^ stream[i]);
    done += chunk;
  }
  OPENSSL_cleanse(stream.data(), stream.size());
}

// Per-message values derived from the key and IV: the hash key H = E(K, 0^128), the
// pre-counter block J0 and E(K, J0), which masks the tag.
struct Setup {
  Block h{};
  Block j0{};
  Block ek_j0{};
  ~Setup() {
    OPENSSL_cleanse(h.data(), h.size());
    OPENSSL_cleanse(ek_j0.data(), ek_j0.size());
  }
};

void setup(Sm4Blocks& sm4, std::string_view iv, Setup& s) {
  Block zero{};
  sm4.encrypt(zero.data(), s.h.data(), 1);
  std::memcpy(s.j0.data(), iv.data(), kGcmIvBytes);
  s.j0[15] = 1;
  sm4.encrypt(s.j0.data(), s.ek_j0.data(), 1);
}

// T = E(K, J0) XOR GHASH_H(A || pad || C || pad || [len(A)]64 || [len(C)]64), never truncated.
std::string compute_tag(const Setup& s, std::string_view aad, std::string_view ciphertext) {
  Ghash g(s.h);
  g.absorb_padded(aad);
  g.absorb_padded(ciphertext);
  g.absorb_lengths(aad.size(), ciphertext.size());
  Block t = g.result();
  std::string tag(kGcmTagBytes, '\0');
  for (size_t i = 0; i < kGcmTagBytes; ++i) tag[i] = static_cast<char>(t[i] ^ s.ek_j0[i]);
  return tag;
}

std::optional<Error> check_sizes(std::string_view key, std::string_view iv) {
  if (key.size() != kSm4KeyBytes) {
    return Error::invalid("key", "invalid_key_size", "SM4 key must be 16 bytes");
  }
  if (iv.size() != kGcmIvBytes) {
    return Error::invalid("iv", "invalid_iv_size", "SM4-GCM IV must be 12 bytes");
  }
  return std::nullopt;
}

}  // namespace

Result<Sm4GcmSealed> sm4_gcm_encrypt(std::string_view key, std::string_view iv, std::string_view plaintext,
                                     std::string_view aad) {
  if (auto e = check_sizes(key, iv)) return *e;
  if (plaintext.size() > kMaxPlaintextBytes) {
    return Error{ErrorKind::kTooLarge, "plaintext_too_large", "SM4-GCM plaintext exceeds 2^36 - 32 bytes", {}};
  }
  Sm4Blocks sm4(key);
  Setup s;
  setup(sm4, iv, s);
  Sm4GcmSealed out;
  out.ciphertext.resize(plaintext.size());
  gctr(sm4, s.j0, reinterpret_cast<const unsigned char*>(plaintext.data()),
       reinterpret_cast<unsigned char*>(out.ciphertext.data()), plaintext.size());
  out.tag = compute_tag(s, aad, out.ciphertext);
  return out;
}

Result<std::string> sm4_gcm_decrypt(std::string_view key, std::string_view iv, std::string_view ciphertext,
                                    std::string_view tag, std::string_view aad) {
  if (auto e = check_sizes(key, iv)) return *e;
  if (tag.size() != kGcmTagBytes) {
    return Error::invalid("tag", "invalid_tag_size", "SM4-GCM tag must be 16 bytes");
  }
  if (ciphertext.size() > kMaxPlaintextBytes) {
    return Error{ErrorKind::kTooLarge, "ciphertext_too_large", "SM4-GCM ciphertext exceeds 2^36 - 32 bytes", {}};
  }
  Sm4Blocks sm4(key);
  Setup s;
  setup(sm4, iv, s);
  // Authenticate first: nothing is decrypted unless the tag matches.
  if (!constant_time_equal(compute_tag(s, aad, ciphertext), tag)) {
    return Error::invalid("ciphertext", "authentication_failed",
                          "SM4-GCM authentication failed: wrong key, or the data was altered");
  }
  std::string plaintext(ciphertext.size(), '\0');
  gctr(sm4, s.j0, reinterpret_cast<const unsigned char*>(ciphertext.data()),
       reinterpret_cast<unsigned char*>(plaintext.data()), ciphertext.size());
  return plaintext;
}

}  // namespace mingchu::crypto
