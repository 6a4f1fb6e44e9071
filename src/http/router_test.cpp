#include <gtest/gtest.h>

#include "http/router.hpp"

namespace mingchu::http {
namespace {

Response named(const char* n) {
  Response r;
  r.body = n;
  return r;
}

TEST(Router, MatchesParamsLiteralsAndMethods) {
  Router r;
  r.add("GET", "/api/v1/units/{id}", [](Request&) { return named("unit"); });
  r.add("GET", "/api/v1/units/{id}/qrcode.png", [](Request&) { return named("qr"); });
  r.add("GET", "/assets/*", [](Request&) { return named("asset"); });
  r.add("POST", "/api/v1/units", [](Request&) { return named("create"); });
  Request q;
  q.method = "GET";
  q.path = "/api/v1/units/u_1";
  Match m = r.match(q);
  ASSERT_TRUE(m.route);
  EXPECT_EQ(q.param("id"), "u_1");
  q.path = "/api/v1/units/u_1/qrcode.png";
  EXPECT_EQ(r.match(q).route->handler(q).body, "qr");
  q.path = "/assets/a/b.js";
  EXPECT_EQ(r.match(q).route->handler(q).body, "asset");
  EXPECT_EQ(q.param("*"), "a/b.js");
  q.path = "/api/v1/units";
  Match m2 = r.match(q);
  EXPECT_FALSE(m2.route);
  EXPECT_TRUE(m2.path_known);  // 405, not 404
  q.path = "/nothing";
  EXPECT_FALSE(r.match(q).path_known);
}

TEST(Query, DecodesPercentAndPlus) {
  auto q = parse_query("q=%E6%98%8E+%E5%8E%A8&page=2&flag");
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].second, "明 厨");
  EXPECT_EQ(q[1].second, "2");
  EXPECT_EQ(q[2].first, "flag");
}

}  // namespace
}  // namespace mingchu::http
