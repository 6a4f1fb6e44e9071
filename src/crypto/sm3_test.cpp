#include "crypto/sm3.hpp"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace mingchu::crypto {
namespace {

std::string abcd16() {
  std::string s;
  for (int i = 0; i < 16; ++i) s += "abcd";
  return s;
}

// GB/T 32905-2016 Appendix A examples 1 and 2.
TEST(Sm3, StandardVectors) {
  EXPECT_EQ(sm3_hex("abc"), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
  EXPECT_EQ(sm3_hex(abcd16()), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
}

TEST(Sm3, EmptyInput) { EXPECT_EQ(sm3_hex(""), "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"); }

TEST(Sm3, StreamingEqualsOneShotForEverySplit) {
  const std::string msg = abcd16() + "tail bytes";
  for (size_t cut = 0; cut <= msg.size(); ++cut) {
    Sm3 h;
    h.update(std::string_view(msg).substr(0, cut));
    h.update(std::string_view(msg).substr(cut));
    EXPECT_EQ(h.final_hex(), sm3_hex(msg)) << cut;
  }
}

TEST(Sm3, ResetsAfterFinal) {
  Sm3 h;
  h.update("abc");
  std::string first = h.final_hex();
  h.update("abc");
  EXPECT_EQ(h.final_hex(), first);
  EXPECT_EQ(h.final_bytes().size(), kDigestBytes);  // digest of nothing, raw
}

TEST(Sm3, MovedObjectKeepsState) {
  Sm3 a;
  a.update("ab");
  Sm3 b = std::move(a);
  b.update("c");
  EXPECT_EQ(b.final_hex(), sm3_hex("abc"));
}

TEST(Sm3, BinaryInputWithNulBytes) {
  std::string bin("a\0b", 3);
  EXPECT_NE(sm3_hex(bin), sm3_hex("ab"));
  EXPECT_EQ(sm3_hex(bin).size(), 64u);
}

// FIPS 180-2 example.
TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, Streaming) {
  Sha256 h;
  h.update("a");
  h.update("");
  h.update("bc");
  EXPECT_EQ(h.final_hex(), sha256_hex("abc"));
}

TEST(Sha256, MillionAs) {
  Sha256 h;
  std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.update(chunk);
  EXPECT_EQ(h.final_hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// RFC 4231 test cases 1, 2 and 6 (a key longer than the block size).
TEST(HmacSha256, Rfc4231) {
  EXPECT_EQ(hmac_sha256_hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hmac_sha256_hex(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(HmacSha256, EmptyKeyAndData) {
  EXPECT_EQ(hmac_sha256_hex("", ""), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  EXPECT_EQ(hmac_sha256("", "").size(), kDigestBytes);
}

TEST(ConstantTimeEqual, Basics) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
}

TEST(Sm3, ConcurrentUseFromManyThreads) {
  std::vector<std::thread> threads;
  std::vector<int> ok(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&ok, t] {
      for (int i = 0; i < 200; ++i) {
        if (sm3_hex("abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0") ++ok[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int n : ok) EXPECT_EQ(n, 200);
}

}  // namespace
}  // namespace mingchu::crypto
