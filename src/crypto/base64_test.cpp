#include "crypto/base64.hpp"

#include <string>

#include <gtest/gtest.h>

namespace mingchu::crypto {
namespace {

// RFC 4648 section 10.
TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string, std::string> cases[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : cases) {
    EXPECT_EQ(base64_encode(plain), encoded);
    auto d = base64_decode(encoded);
    ASSERT_TRUE(d) << encoded;
    EXPECT_EQ(*d, plain);
  }
}

TEST(Base64, UsesPlusAndSlash) {
  EXPECT_EQ(base64_encode("\xfb\xff\xbf"), "+/+/");
  auto d = base64_decode("+/+/");
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "\xfb\xff\xbf");
}

TEST(Base64, RoundTripsAllByteValues) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); n += 17) {
    auto d = base64_decode(base64_encode(all.substr(0, n)));
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, all.substr(0, n));
  }
}

TEST(Base64, RejectsMalformedInput) {
  for (std::string_view bad : {"Zg", "Zg=", "Zm9", "Z===", "====", "Zg==Zg==", "Zm=v", "Zm 9v", "Zm9v\n", "Zm9v\r\n",
                               " Zm9v", "Zm9-", "Zm9_", "Zm9v=", "Zm9v====", "=Zm9"}) {
    auto d = base64_decode(bad);
    ASSERT_FALSE(d) << bad;
    EXPECT_EQ(d.error().code, "malformed_base64");
    EXPECT_EQ(d.error().kind, ErrorKind::kMalformed);
  }
}

TEST(Base64, RejectsNonCanonicalPaddingBits) {
  // "Zh==" and "Zm9=" carry set bits that the padding discards; only "Zg==" / "Zm8=" are canonical.
  EXPECT_FALSE(base64_decode("Zh=="));
  EXPECT_FALSE(base64_decode("Zm9="));
  EXPECT_TRUE(base64_decode("Zg=="));
  EXPECT_TRUE(base64_decode("Zm8="));
}

TEST(Base64, RejectsNulAndHighBytes) {
  EXPECT_FALSE(base64_decode(std::string("Zm9\0", 4)));
  EXPECT_FALSE(base64_decode("Zm9\xc3"));
}

}  // namespace
}  // namespace mingchu::crypto
