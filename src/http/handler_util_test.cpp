#include "http/handler_util.hpp"

#include <gtest/gtest.h>

#include "http/security_headers.hpp"

namespace mingchu::http {
namespace {

Request with_authorization(std::string value) {
  Request r;
  r.headers.emplace_back("authorization", std::move(value));
  return r;
}

TEST(BearerToken, SchemeIsCaseInsensitiveAndCheckedAsAWord) {
  for (const char* h : {"Bearer abc.DEF-123_~+/==", "bearer abc.DEF-123_~+/==", "BEARER abc.DEF-123_~+/==",
                        "  Bearer   abc.DEF-123_~+/==  "}) {
    auto t = bearer_token(with_authorization(h));
    ASSERT_TRUE(t.ok()) << h;
    EXPECT_EQ(*t, "abc.DEF-123_~+/==") << h;
  }
  for (const char* h : {"Bearerabc", "Bearerx abc", "Basic abc", "Bearer", "Bearer ", "Bearer a b", "Bearer a=b",
                        "Bearer \"abc\"", "Token abc", ""}) {
    EXPECT_FALSE(bearer_token(with_authorization(h)).ok()) << h;
  }
  EXPECT_EQ(bearer_token(Request{}).error().kind, ErrorKind::kUnauthorized);
}

TEST(MediaType, JsonMatchesExactlyAndCaseInsensitively) {
  for (const char* ct :
       {"application/json", "APPLICATION/JSON", "Application/Json; charset=UTF-8", "application/json;charset=utf-8",
        "application/json ; charset=\"utf-8\"", "application/json;"}) {
    EXPECT_TRUE(is_json_media_type(ct)) << ct;
  }
  for (const char* ct :
       {"application/jsonx", "application/json-patch+json", "text/plain; x=application/json", "xapplication/json",
        "application/json; charset=latin1", "application/jso", "", "application/json; garbage", "application /json"}) {
    EXPECT_FALSE(is_json_media_type(ct)) << ct;
  }
}

TEST(SecurityHeaders, StrictScriptsFramesByConfiguration) {
  ApiOptions opt;
  std::string csp = content_security_policy(opt, false);
  EXPECT_NE(csp.find("script-src 'self';"), std::string::npos);
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos);
  opt.public_frame_ancestors = "https://portal.example.gov.cn";
  EXPECT_NE(content_security_policy(opt, true).find("frame-ancestors https://portal.example.gov.cn"),
            std::string::npos);
  EXPECT_NE(content_security_policy(opt, false).find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(tile_source("https://t{s}.tianditu.gov.cn/vec_w/wmts?x={x}"),
            std::optional<std::string>("https://*.tianditu.gov.cn"));
  EXPECT_EQ(tile_source("https://tiles.example.com:8443/{z}/{x}/{y}.png"),
            std::optional<std::string>("https://tiles.example.com:8443"));
  EXPECT_FALSE(tile_source("javascript:alert(1)").has_value());
  EXPECT_FALSE(tile_source("https://a.{s}.example.com/x").has_value());
  EXPECT_FALSE(frame_ancestors_problem("'self' https://portal.example.gov.cn").has_value());
  EXPECT_TRUE(frame_ancestors_problem("https://a.example; script-src *").has_value());
  EXPECT_TRUE(frame_ancestors_problem("*").has_value());
  EXPECT_TRUE(frame_ancestors_problem("").has_value());
}

}  // namespace
}  // namespace mingchu::http
