#include "crypto/field_cipher.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "crypto/base64.hpp"
#include "crypto/sm3.hpp"

namespace mingchu::crypto {
namespace {

namespace fs = std::filesystem;

const std::string kKey = "0123456789abcdef";  // 16 bytes

FieldCipher cipher(const std::string& key = kKey) {
  auto c = FieldCipher::from_key(key);
  EXPECT_TRUE(c);
  return std::move(c).value();
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "field_cipher_test.XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& content) {
  std::ofstream out(p, std::ios::binary);
  out << content;
}

TEST(FieldCipher, RoundTrip) {
  auto c = cipher();
  for (const std::string& pt :
       std::vector<std::string>{"", "x", "32060219900101123X", "张三丰 13812345678", std::string(1000, 'z')}) {
    std::string text = c.encrypt(pt);
    EXPECT_TRUE(text.starts_with("sm4gcm1:"));
    EXPECT_TRUE(FieldCipher::looks_encrypted(text));
    auto back = c.decrypt(text);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, pt);
  }
}

TEST(FieldCipher, LayoutIsIvCiphertextTag) {
  auto c = cipher();
  std::string text = c.encrypt("hello");
  auto raw = base64_decode(std::string_view(text).substr(8));
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->size(), 12u + 5u + 16u);
}

TEST(FieldCipher, FreshIvEveryTime) {
  auto c = cipher();
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(c.encrypt("same value"));
  EXPECT_EQ(seen.size(), 100u);
}

TEST(FieldCipher, OtherKeyFails) {
  std::string text = cipher().encrypt("secret");
  auto r = cipher("fedcba9876543210").decrypt(text);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "authentication_failed");
}

TEST(FieldCipher, ContextBindsTheValueToItsColumn) {
  auto c = cipher();
  std::string text = c.encrypt("32060219900101123X", "staff.id_number");
  EXPECT_TRUE(c.decrypt(text, "staff.id_number"));
  EXPECT_FALSE(c.decrypt(text, "staff.phone"));
  EXPECT_FALSE(c.decrypt(text));
}

TEST(FieldCipher, TamperedTextFails) {
  auto c = cipher();
  std::string text = c.encrypt("secret value");
  auto raw = base64_decode(std::string_view(text).substr(8));
  ASSERT_TRUE(raw);
  for (size_t i = 0; i < raw->size(); ++i) {
    std::string bad = *raw;
    bad[i] ^= 0x01;
    auto r = c.decrypt("sm4gcm1:" + base64_encode(bad));
    ASSERT_FALSE(r) << i;
    EXPECT_EQ(r.error().code, "authentication_failed");
  }
}

TEST(FieldCipher, MalformedTextIsMalformed) {
  auto c = cipher();
  for (std::string bad :
       {std::string(""), std::string("plain text"), std::string("sm4gcm1:"), std::string("sm4gcm1:!!!!"),
        std::string("sm4gcm1:AAAA"), "sm4gcm1:" + base64_encode(std::string(27, 'a')), std::string("SM4GCM1:AAAA"),
        std::string("sm4gcm2:") + base64_encode(std::string(40, 'a'))}) {
    auto r = c.decrypt(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "malformed_ciphertext") << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kMalformed);
  }
}

TEST(FieldCipher, ShortestValidTextIsAnEmptyPlaintext) {
  auto c = cipher();
  std::string text = c.encrypt("");
  auto raw = base64_decode(std::string_view(text).substr(8));
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->size(), 28u);
}

TEST(FieldCipher, WrongKeySize) {
  auto c = FieldCipher::from_key("short");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, "invalid_key_size");
  EXPECT_FALSE(FieldCipher::from_key(std::string(32, 'k')));
}

TEST(FieldCipher, BlindIndexIsDeterministicAndKeyed) {
  auto a = cipher();
  auto b = cipher("fedcba9876543210");
  EXPECT_EQ(a.blind_index("32060219900101123X"), a.blind_index("32060219900101123X"));
  EXPECT_NE(a.blind_index("32060219900101123X"), a.blind_index("32060219900101123x"));
  EXPECT_NE(a.blind_index("32060219900101123X"), b.blind_index("32060219900101123X"));
  EXPECT_EQ(a.blind_index("x").size(), 64u);
  // The index key is derived, not the field key itself.
  EXPECT_NE(a.blind_index("x"), hmac_sha256_hex(kKey, "x"));
}

TEST(FieldCipher, CopiesWorkIndependently) {
  auto a = cipher();
  std::string text;
  {
    FieldCipher b = a;
    text = b.encrypt("v");
  }
  auto r = a.decrypt(text);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "v");
}

TEST(FieldCipher, ConcurrentUse) {
  auto c = cipher();
  std::vector<std::thread> threads;
  std::vector<int> good(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c, &good, t] {
      for (int i = 0; i < 200; ++i) {
        std::string v = "value-" + std::to_string(t) + "-" + std::to_string(i);
        auto back = c.decrypt(c.encrypt(v));
        if (back && *back == v) ++good[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int n : good) EXPECT_EQ(n, 200);
}

TEST(FieldCipherKeyFile, CreatesFileWith0600AndHexKey) {
  TempDir dir;
  fs::path p = dir.path() / "keys" / "field.key";  // parent does not exist yet
  auto c = FieldCipher::load_or_create(p.string());
  ASSERT_TRUE(c) << c.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string content = slurp(p);
  ASSERT_EQ(content.size(), 33u);
  EXPECT_EQ(content.back(), '\n');
  for (size_t i = 0; i < 32; ++i) EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(content[i])));
  // No temporary files are left behind.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(p.parent_path())) ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST(FieldCipherKeyFile, LoadsTheSameKeyAgain) {
  TempDir dir;
  std::string p = (dir.path() / "field.key").string();
  auto first = FieldCipher::load_or_create(p);
  ASSERT_TRUE(first);
  std::string text = first->encrypt("persisted");
  std::string index = first->blind_index("persisted");
  auto second = FieldCipher::load_or_create(p);
  ASSERT_TRUE(second);
  auto back = second->decrypt(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, "persisted");
  EXPECT_EQ(second->blind_index("persisted"), index);
}

TEST(FieldCipherKeyFile, LoadsAKnownKey) {
  TempDir dir;
  fs::path p = dir.path() / "field.key";
  write_file(p, "30313233343536373839616263646566");  // hex of kKey, no newline
  auto c = FieldCipher::load_or_create(p.string());
  ASSERT_TRUE(c);
  auto back = cipher().decrypt(c->encrypt("cross"));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, "cross");
  write_file(p, "30313233343536373839414243444546\n");  // upper-case hex is the same key ("ABCDEF")
  auto upper = FieldCipher::load_or_create(p.string());
  ASSERT_TRUE(upper);
  EXPECT_TRUE(cipher("0123456789ABCDEF").decrypt(upper->encrypt("u")));
}

TEST(FieldCipherKeyFile, RefusesMalformedFilesAndLeavesThemAlone) {
  TempDir dir;
  fs::path p = dir.path() / "field.key";
  for (std::string bad : {std::string(""), std::string("abc"), std::string(31, 'a'), std::string(33, 'a'),
                          std::string(32, 'g'), std::string(32, 'a') + "\n\n", std::string(32, 'a') + "\r\n",
                          " " + std::string(32, 'a'), std::string(64, 'a'), std::string(10000, 'a')}) {
    write_file(p, bad);
    auto c = FieldCipher::load_or_create(p.string());
    ASSERT_FALSE(c) << bad.size();
    EXPECT_EQ(c.error().code, "malformed_key_file");
    EXPECT_EQ(slurp(p), bad);
    // The message names the file but never repeats its content.
    EXPECT_NE(c.error().message.find(p.string()), std::string::npos);
    if (bad.size() >= 8) {
      EXPECT_EQ(c.error().message.find(bad.substr(0, 8)), std::string::npos);
    }
  }
}

TEST(FieldCipherKeyFile, UnreadablePathIsInternalError) {
  TempDir dir;
  fs::path p = dir.path() / "a_directory";
  fs::create_directory(p);
  auto c = FieldCipher::load_or_create(p.string());
  ASSERT_FALSE(c);
  // Reading a directory fails with EISDIR, which is neither "absent" nor "malformed".
  EXPECT_EQ(c.error().kind, ErrorKind::kInternal);
}

TEST(FieldCipherKeyFile, ConcurrentCreatorsAgreeOnOneKey) {
  TempDir dir;
  std::string p = (dir.path() / "field.key").string();
  constexpr int kThreads = 8;
  std::vector<std::string> texts(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto c = FieldCipher::load_or_create(p);
      if (c) texts[t] = c->encrypt("shared");
    });
  }
  for (auto& th : threads) th.join();
  auto final_key = FieldCipher::load_or_create(p);
  ASSERT_TRUE(final_key);
  for (const auto& text : texts) {
    ASSERT_FALSE(text.empty());
    auto back = final_key->decrypt(text);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, "shared");
  }
}

}  // namespace
}  // namespace mingchu::crypto
