#include "http/handler_util.hpp"

#include <gtest/gtest.h>

#include "core/time.hpp"
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

TEST(QueryTime, ADateMeansItsStartInTheConfiguredZone) {
  ApiContext ctx;
  Request r;
  r.query = {{"from", "2026-11-22"}, {"to", "2026-11-22T08:00:00+08:00"}, {"bad", "22/11/2026"}};
  ctx.options.utc_offset_minutes = 480;  // China
  auto from = query_time(ctx, r, "from");
  ASSERT_TRUE(from.ok() && *from);
  EXPECT_EQ(**from, *parse_rfc3339("2026-11-22T00:00:00+08:00"));
  ctx.options.utc_offset_minutes = -300;  // a deployment elsewhere
  from = query_time(ctx, r, "from");
  ASSERT_TRUE(from.ok() && *from);
  EXPECT_EQ(**from, *parse_rfc3339("2026-11-22T00:00:00-05:00"));
  auto to = query_time(ctx, r, "to");
  ASSERT_TRUE(to.ok() && *to);
  EXPECT_EQ(**to, *parse_rfc3339("2026-11-22T00:00:00Z"));  // an explicit offset wins
  EXPECT_FALSE(*query_time(ctx, r, "absent"));
  auto bad = query_time(ctx, r, "bad");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().field, "bad");
  EXPECT_EQ(bad.error().code, "invalid_time");
}

TEST(DbErrorAnswer, OneMappingUnavailableIs503UniqueIs409OtherIsABug) {
  auto u = db_error_answer(storage::DbError(storage::DbError::Kind::kUnavailable, "down"));
  ASSERT_TRUE(u);
  EXPECT_EQ(http_status(u->kind), 503);
  EXPECT_EQ(u->code, "unavailable");
  auto c = db_error_answer(storage::DbError(storage::DbError::Kind::kUnique, "dup"));
  ASSERT_TRUE(c);
  EXPECT_EQ(http_status(c->kind), 409);
  EXPECT_EQ(c->code, "conflict");
  EXPECT_FALSE(db_error_answer(storage::DbError(storage::DbError::Kind::kOther, "syntax")));
  EXPECT_THROW(db_failure(storage::DbError(storage::DbError::Kind::kOther, "syntax")), storage::DbError);
  EXPECT_EQ(guarded([]() -> Response { throw storage::DbError(storage::DbError::Kind::kUnavailable, "x"); }).status,
            503);
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
