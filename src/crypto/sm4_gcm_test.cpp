#include "crypto/sm4_gcm.hpp"

#include <string>

#include <gtest/gtest.h>

#include "core/ids.hpp"

namespace mingchu::crypto {
namespace {

std::string unhex(std::string_view hex) {
  std::string out;
  auto nibble = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10;
  };
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  return out;
}

// RFC 8998 Appendix A.1 (SM4-GCM). The expected ciphertext and tag were checked against three
// independent implementations' copies of the vector (GmSSL, a Go and a C# SM4-GCM test suite).
struct Rfc8998 {
  std::string key = unhex("0123456789ABCDEFFEDCBA9876543210");
  std::string iv = unhex("00001234567800000000ABCD");
  std::string aad = unhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2");
  std::string plaintext = unhex(
      "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
      "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA");
  std::string ciphertext = unhex(
      "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
      "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D");
  std::string tag = unhex("83DE3541E4C2B58177E065A9BF7B62EC");
};

TEST(Sm4Gcm, Rfc8998Encrypt) {
  Rfc8998 v;
  auto sealed = sm4_gcm_encrypt(v.key, v.iv, v.plaintext, v.aad);
  ASSERT_TRUE(sealed) << sealed.error().message;
  EXPECT_EQ(to_hex(sealed->ciphertext), to_hex(v.ciphertext));
  EXPECT_EQ(to_hex(sealed->tag), to_hex(v.tag));
}

TEST(Sm4Gcm, Rfc8998Decrypt) {
  Rfc8998 v;
  auto opened = sm4_gcm_decrypt(v.key, v.iv, v.ciphertext, v.tag, v.aad);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(*opened, v.plaintext);
}

TEST(Sm4Gcm, RoundTripsEveryLengthAroundBlockAndBatchBoundaries) {
  std::string key = unhex("000102030405060708090a0b0c0d0e0f");
  std::string iv = unhex("cafebabefacedbaddecaf888");
  for (size_t n : {0u, 1u, 15u, 16u, 17u, 31u, 32u, 33u, 1023u, 1024u, 1025u, 5000u}) {
    for (size_t a : {0u, 1u, 16u, 20u}) {
      std::string pt(n, '\0');
      for (size_t i = 0; i < n; ++i) pt[i] = static_cast<char>(i * 7 + 3);
      std::string aad(a, 'x');
      auto sealed = sm4_gcm_encrypt(key, iv, pt, aad);
      ASSERT_TRUE(sealed);
      ASSERT_EQ(sealed->ciphertext.size(), n);
      ASSERT_EQ(sealed->tag.size(), kGcmTagBytes);
      auto opened = sm4_gcm_decrypt(key, iv, sealed->ciphertext, sealed->tag, aad);
      ASSERT_TRUE(opened) << n << "/" << a;
      EXPECT_EQ(*opened, pt) << n << "/" << a;
    }
  }
}

TEST(Sm4Gcm, CiphertextIsAPrefixStream) {
  // CTR mode: encrypting a prefix gives a prefix of the ciphertext (and a different tag).
  Rfc8998 v;
  auto whole = sm4_gcm_encrypt(v.key, v.iv, v.plaintext, v.aad);
  auto part = sm4_gcm_encrypt(v.key, v.iv, v.plaintext.substr(0, 21), v.aad);
  ASSERT_TRUE(whole && part);
  EXPECT_EQ(part->ciphertext, whole->ciphertext.substr(0, 21));
  EXPECT_NE(part->tag, whole->tag);
}

TEST(Sm4Gcm, EveryFlippedCiphertextBitIsRejected) {
  Rfc8998 v;
  for (size_t byte = 0; byte < v.ciphertext.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string ct = v.ciphertext;
      ct[byte] = static_cast<char>(ct[byte] ^ (1 << bit));
      auto r = sm4_gcm_decrypt(v.key, v.iv, ct, v.tag, v.aad);
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, "authentication_failed");
      EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
    }
  }
}

TEST(Sm4Gcm, EveryFlippedTagBitIsRejected) {
  Rfc8998 v;
  for (size_t byte = 0; byte < v.tag.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string tag = v.tag;
      tag[byte] = static_cast<char>(tag[byte] ^ (1 << bit));
      EXPECT_FALSE(sm4_gcm_decrypt(v.key, v.iv, v.ciphertext, tag, v.aad));
    }
  }
}

TEST(Sm4Gcm, AlteredAadIvOrKeyIsRejected) {
  Rfc8998 v;
  std::string aad = v.aad;
  aad[0] ^= 1;
  EXPECT_FALSE(sm4_gcm_decrypt(v.key, v.iv, v.ciphertext, v.tag, aad));
  EXPECT_FALSE(sm4_gcm_decrypt(v.key, v.iv, v.ciphertext, v.tag, v.aad.substr(1)));
  EXPECT_FALSE(sm4_gcm_decrypt(v.key, v.iv, v.ciphertext, v.tag, v.aad + '\0'));
  EXPECT_FALSE(sm4_gcm_decrypt(v.key, v.iv, v.ciphertext, v.tag, ""));
  std::string iv = v.iv;
  iv[11] ^= 1;
  EXPECT_FALSE(sm4_gcm_decrypt(v.key, iv, v.ciphertext, v.tag, v.aad));
  std::string key = v.key;
  key[15] ^= 1;
  EXPECT_FALSE(sm4_gcm_decrypt(key, v.iv, v.ciphertext, v.tag, v.aad));
}

TEST(Sm4Gcm, TruncatedOrExtendedCiphertextIsRejected) {
  Rfc8998 v;
  EXPECT_FALSE(sm4_gcm_decrypt(v.key, v.iv, v.ciphertext.substr(0, 63), v.tag, v.aad));
  EXPECT_FALSE(sm4_gcm_decrypt(v.key, v.iv, v.ciphertext + 'x', v.tag, v.aad));
  EXPECT_FALSE(sm4_gcm_decrypt(v.key, v.iv, "", v.tag, v.aad));
}

TEST(Sm4Gcm, WrongSizesAreInvalid) {
  Rfc8998 v;
  auto r = sm4_gcm_encrypt(v.key.substr(1), v.iv, "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "invalid_key_size");
  r = sm4_gcm_encrypt(v.key, v.iv + "1234", "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "invalid_iv_size");
  auto d = sm4_gcm_decrypt(v.key, v.iv, v.ciphertext, v.tag.substr(0, 12), v.aad);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, "invalid_tag_size");
  d = sm4_gcm_decrypt(v.key + "x", v.iv, v.ciphertext, v.tag, v.aad);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, "invalid_key_size");
}

TEST(Sm4Gcm, EmptyPlaintextStillAuthenticatesAad) {
  Rfc8998 v;
  auto sealed = sm4_gcm_encrypt(v.key, v.iv, "", v.aad);
  ASSERT_TRUE(sealed);
  EXPECT_TRUE(sealed->ciphertext.empty());
  EXPECT_TRUE(sm4_gcm_decrypt(v.key, v.iv, "", sealed->tag, v.aad));
  EXPECT_FALSE(sm4_gcm_decrypt(v.key, v.iv, "", sealed->tag, "other"));
}

}  // namespace
}  // namespace mingchu::crypto
